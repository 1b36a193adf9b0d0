"""The Cdiscount double's conformance driver (``keybuzz_sandbox.conformance``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keybuzz_sandbox.double_kit.driver import ListedShopsDriver


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
    suite_settings = {"EXTRA_SHOPS": "2", "BENCH_ORDERS": "50"}

    account = "sellerId"
    listed_as = {"client_id": "clientId", "client_secret": "clientSecret", "seller_id": "sellerId"}
    recipient_kinds = {"Customer": "BUYER", "GrcOperator": "MARKETPLACE_SUPPORT"}
    buyer_says = {"userType": "Customer"}
    staff_says = {"userType": "GrcOperator"}

    def kept(self, shop: Mapping[str, Any]) -> bool:
        return shop["orders"] > 0

    def logged_kinds(self, logged: Mapping[str, Any]) -> list[str]:
        return [receiver["userType"] for receiver in logged["receivers"]]
