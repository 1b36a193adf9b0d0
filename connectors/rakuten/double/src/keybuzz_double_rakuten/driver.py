"""The Rakuten double's conformance driver (``keybuzz_sandbox.conformance``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from keybuzz_sandbox.conformance import (
    AdminDriver,
    DoubleShop,
    Fault,
    ShopDriver,
    Unsupported,
    WireFormat,
    Written,
    answered,
)
from keybuzz_sandbox.double_kit.driver import sent_log, shops_of, suite_pace

API = "/rakuten/"
REPLYING = ("contactuseraboutitem", "contactusaboutitem")


@dataclass(frozen=True, kw_only=True)
class RakutenDriver(AdminDriver):
    """Rakuten's double: one thread per sold item, a reply to its buyer or to Rakuten's
    customer service (which writes in it by mail)."""

    reading: tuple[str, ...] = ("getitemtodolist", "getiteminfos")
    replying: str = REPLYING[0]
    revoking: str = "rotate-token"
    answer_cap: int = 16 * 2**20  # the Rakuten connector's SPEC.max_response_bytes
    tokenless: str = "a Rakuten token is the seller's own, issued in its account"
    wire: WireFormat = "XML"
    unpaged: str = "Rakuten's to-do list (getitemtodolist) is one answer, not paged"

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return {
            "RAKUTEN_API_URL": f"{sandbox_url}{API}",
            **suite_pace("RAKUTEN"),
        }

    def sandbox_settings(self) -> dict[str, str]:
        return {}

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]:
        listed = answered(await http.get(self.shops_listed_at))
        return shops_of(listed, account="login", credentials={"login": "login", "token": "token"})

    def fault_settings(self, fault: Fault, ids: list[str]) -> dict[str, Any]:
        settings = super().fault_settings(fault, ids)
        if settings.get("operations") == [self.replying]:  # either reply action
            settings["operations"] = list(REPLYING)
        return settings

    def staff_message(self, text: str) -> dict[str, Any]:
        return {"body": text, "staff": True}

    def buyer_message(self, text: str) -> dict[str, Any]:
        return {"body": text}

    async def buyer_names_a_file(
        self, http: httpx.AsyncClient, shop: DoubleShop, text: str, reference: str
    ) -> Written:
        raise Unsupported("Rakuten's messages carry no file")

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        sent = await sent_log(http, self.admin, shop)
        return [s["recipient"] for s in sent if s["body"] == text]


def drivers() -> dict[str, ShopDriver]:
    return {"RAKUTEN": RakutenDriver(marketplace="RAKUTEN")}
