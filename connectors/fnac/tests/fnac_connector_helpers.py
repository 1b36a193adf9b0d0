"""What the Fnac connector's tests share: the double's shops and their credentials, its
fault switches, a page's items read as its listing reads them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from keybuzz_connector_fnac.client import FnacCredentials
from keybuzz_connector_fnac.models import Listed, Order
from keybuzz_shared.connectors.kit import Node
from keybuzz_shared.connectors.seam import read_each

T = TypeVar("T")


def shop(sandbox_url: str, marketplace: str = "FNAC", name: str | None = None) -> dict[str, Any]:
    shops = httpx.get(f"{sandbox_url}/_sandbox/fnac/shops", timeout=30).json()
    return next(
        s for s in shops if s["marketplace"] == marketplace and (name is None or name in s["name"])
    )


def credentials_of(entry: dict[str, Any]) -> FnacCredentials:
    return FnacCredentials(
        partner_id=entry["partner_id"], shop_id=entry["shop_id"], key=entry["key"]
    )


async def set_faults(admin: httpx.AsyncClient, **faults: Any) -> None:
    response = await admin.put("/_sandbox/fnac/faults", json=faults)
    assert response.status_code == 200, response.text


def read(page: Listed, read_one: Callable[[Any], T]) -> tuple[T, ...]:
    """A page's items, each read by ``read_one`` as its listing reads it (none left out)."""
    items, unreadable = read_each(page.items, read_one)
    assert unreadable == ()
    return items


def read_order(node: Node) -> Order:
    """A listed order as the session reads it."""
    return node.decode(Order)
