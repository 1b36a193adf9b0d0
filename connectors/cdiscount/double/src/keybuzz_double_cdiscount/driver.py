"""The Cdiscount double's conformance driver (``keybuzz_sandbox.conformance``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from keybuzz_sandbox.conformance import DoubleShop, ShopDriver
from keybuzz_sandbox.double_kit.driver import ListedShopsDriver, suite_pace

from keybuzz_double_cdiscount.env import service_env


@dataclass(frozen=True, kw_only=True)
class CdiscountDriver(ListedShopsDriver):
    """Octopia's double (docs/SANDBOX.md, "Cdiscount double"): customer care (GrcOperator)
    writes in some discussions; a reply can go to it."""

    reading: tuple[str, ...] = ("getDiscussions", "getDiscussion")
    replying: str = "postMessage"
    revoking: str = "rotate-secret"
    answer_cap: int = 16 * 2**20  # the Cdiscount connector's MAX_RESPONSE_BYTES
    threads: str = "discussions"
    thread_id: str = "discussionId"

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return {**service_env(sandbox_url), **suite_pace("CDISCOUNT")}

    def sandbox_settings(self) -> dict[str, str]:
        return {"SANDBOX_CDISCOUNT_EXTRA_SHOPS": "2", "SANDBOX_CDISCOUNT_BENCH_ORDERS": "50"}

    account = "sellerId"
    listed_as = {"client_id": "clientId", "client_secret": "clientSecret", "seller_id": "sellerId"}
    recipient_kinds = {"Customer": "BUYER", "GrcOperator": "MARKETPLACE_SUPPORT"}

    def kept(self, shop: Mapping[str, Any]) -> bool:
        return shop["orders"] > 0

    def staff_message(self, text: str) -> dict[str, Any]:
        return {"userType": "GrcOperator", "body": text}

    def buyer_message(self, text: str) -> dict[str, Any]:
        return {"userType": "Customer", "body": text}

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        return await self.sent_to(
            http, shop, text, lambda s: [r["userType"] for r in s["receivers"]]
        )


def drivers() -> dict[str, ShopDriver]:
    return {"CDISCOUNT": CdiscountDriver(marketplace="CDISCOUNT")}
