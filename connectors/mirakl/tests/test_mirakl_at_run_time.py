"""An operator added to the Mirakl catalogue while the services run (MIRAKL_CATALOGUE_FILE,
docs/MIRAKL.md, "Adding an operator"): oauth connects its shop, the poller polls and
replies through it, no restart, no release. Removed from the file, its connection is kept
and says so and its shop is not polled; added back, it is polled again."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from keybuzz_connector_mirakl.catalogue import CATALOGUE
from keybuzz_devstack.shop_api_testing import as_agent as call
from keybuzz_devstack.shop_api_testing import start_quiet_poller
from keybuzz_devstack.testing import Infra, MailServer, RunningService, eventually
from keybuzz_double_mirakl import service_env
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_poller.polling.scheduler import PollSkipped
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.replies.sender import send_due
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.registry import UnknownMarketplace
from mirakl_connector_helpers import admin, operators, serve_double, unpaced

StartService = Callable[..., Awaitable[RunningService]]


@pytest.fixture
async def double() -> AsyncIterator[str]:
    async for url in serve_double():
        await admin(url, "PUT", "/limits", json={"enforced": False})
        yield url


@pytest.fixture
def catalogue_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The operators' file, empty at start: read by connectors() from the environment."""
    path = tmp_path / "mirakl-operators.json"
    path.write_text("[]")
    monkeypatch.setenv(CATALOGUE.file, str(path))
    registry.refresh()
    yield path
    monkeypatch.delenv(CATALOGUE.file)
    registry.refresh()


def write(path: Path, entries: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps(entries))


def metro(double: str) -> dict[str, Any]:
    """A new operator, its instance the double's Decathlon one (its shops and keys)."""
    return {
        "code": "METRO",
        "name": "Metro",
        "baseUrl": f"{double}/mirakl/DECATHLON",
        "responseHours": 24,
        "frequencies": {},  # the double's are set aside: polled again at once
        "source": "sandbox",
    }


async def test_an_operator_added_at_run_time_connects_polls_and_replies_then_pauses_when_removed(
    start_service: StartService,
    dovecot: MailServer,
    stack: Infra,
    double: str,
    catalogue_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "REREAD_SECONDS", 0.5)  # the operators' reading ages fast
    env = {**unpaced(service_env(double)), "MIRAKL_CATALOGUE_FILE": str(catalogue_file)}
    oauth = await start_service(OAUTH, **env)
    poller = await start_quiet_poller(start_service, POLLER, dovecot, env)
    tenant, base = f"t{uuid.uuid4().hex[:10]}", "/api/v1/marketplaces/metro"
    spec = (await operators(double))["DECATHLON"]["shops"][0]
    form = {"apiKey": spec["apiKey"], "shopId": str(spec["shopId"])}
    unknown = await call(oauth, "POST", f"{base}/connection", tenant, json=form)
    assert unknown.status_code == 404, unknown.text
    with pytest.raises(UnknownMarketplace):
        registry.connector_for("METRO")

    write(catalogue_file, [metro(double)])  # no restart, no release, no refresh asked
    await asyncio.sleep(max(registry.UNKNOWN_REREAD_SECONDS, registry.REREAD_SECONDS))
    listed = (await call(oauth, "GET", "/api/v1/marketplaces", tenant)).json()["marketplaces"]
    assert {"marketplace": "metro", "displayName": "Metro"}.items() <= next(
        m for m in listed if m["marketplace"] == "metro"
    ).items()
    connected = await call(oauth, "POST", f"{base}/connection", tenant, json=form)
    assert connected.status_code == 200, connected.text
    assert connected.json()["marketplaceType"] == "METRO"

    async def scheduled() -> bool | None:
        return await poller.runtime.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT true FROM poller_shops WHERE poll_key = $1", f"METRO:{tenant}"
        )

    await eventually(scheduled)
    scheduler = poller.runtime.component(ShopScheduler)
    await scheduler.poll_now(f"METRO:{tenant}")
    shop_path = f"/operators/DECATHLON/shops/{spec['shopId']}"
    new = await admin(double, "POST", f"{shop_path}/threads", json={"body": "Et METRO ?"})
    assert (await scheduler.poll_now(f"METRO:{tenant}")).stored >= 1
    params = {"marketplace": "METRO", "orderId": new["orderId"]}
    tickets = (await call(poller, "GET", "/api/v1/tickets/", tenant, params=params)).json()
    [ticket] = tickets["items"]
    text = f"Réponse METRO {tenant}"
    queued = await call(
        poller, "POST", f"/api/v1/tickets/{ticket['id']}/replies", tenant, json={"text": text}
    )
    assert queued.status_code == 202, queued.text
    await send_due(poller.runtime.component(PollerPorts).replies)
    sent = (await admin(double, "GET", f"{shop_path}/sent"))["sent"]
    assert [s["to"] for s in sent if s["body"] == text] == [["CUSTOMER"]]

    # Removed from the file: the connection is kept and says so, the shop is not polled.
    write(catalogue_file, [])
    registry.refresh()
    status = (await call(oauth, "GET", f"{base}/status", tenant)).json()
    assert status["status"] == "CONNECTED" and "not served" in status["notServed"], status
    with pytest.raises(PollSkipped):
        await scheduler.poll_now(f"METRO:{tenant}")
    kept = await call(poller, "GET", f"/api/v1/tickets/{ticket['id']}", tenant)
    assert kept.status_code == 200 and kept.json()["marketplace"] == "METRO", kept.text

    # Back in the file: polled again.
    write(catalogue_file, [metro(double)])
    registry.refresh()
    await admin(double, "POST", f"{shop_path}/threads", json={"body": "Encore METRO ?"})
    assert (await scheduler.poll_now(f"METRO:{tenant}")).stored >= 1
