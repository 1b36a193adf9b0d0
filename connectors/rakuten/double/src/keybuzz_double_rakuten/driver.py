"""The Rakuten double's conformance driver (``keybuzz_sandbox.conformance``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from keybuzz_sandbox.conformance import (
    DoubleShop,
    Fault,
    Unsupported,
    WireFormat,
    Written,
)
from keybuzz_sandbox.double_kit.driver import ListedShopsDriver

REPLYING = ("contactuseraboutitem", "contactusaboutitem")


@dataclass(frozen=True, kw_only=True)
class RakutenDriver(ListedShopsDriver):
    """Rakuten's double: one thread per sold item, a reply to its buyer or to Rakuten's
    customer service (which writes in it by mail)."""

    reading: tuple[str, ...] = ("getitemtodolist", "getiteminfos")
    replying: str = REPLYING[0]
    revoking: str = "rotate-token"
    answer_cap: int = 16 * 2**20  # the Rakuten connector's SPEC.max_response_bytes
    tokenless: str = "a Rakuten token is the seller's own, issued in its account"
    wire: WireFormat = "XML"
    unpaged: str = "Rakuten's to-do list (getitemtodolist) is one answer, not paged"

    account = "login"
    listed_as = {"login": "login", "token": "token"}
    logged_to = "recipient"  # the seam's RecipientKind
    buyer_says = {}
    staff_says = {"staff": True}

    def fault_settings(self, fault: Fault, ids: list[str]) -> dict[str, Any]:
        settings = super().fault_settings(fault, ids)
        if settings.get("operations") == [self.replying]:  # either reply action
            settings["operations"] = list(REPLYING)
        return settings

    async def buyer_names_a_file(
        self, http: httpx.AsyncClient, shop: DoubleShop, text: str, reference: str
    ) -> Written:
        raise Unsupported("Rakuten's messages carry no file")
