"""The Back Market double's conformance driver (``keybuzz_sandbox.conformance``)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from keybuzz_sandbox.conformance import (
    DoubleShop,
    RecipientKind,
    ShopDriver,
    Written,
    written_of,
)
from keybuzz_sandbox.double_kit.driver import ListedShopsDriver, suite_pace

from keybuzz_double_backmarket.env import service_env


@dataclass(frozen=True, kw_only=True)
class BackMarketDriver(ListedShopsDriver):
    """Back Market's double (docs/SANDBOX.md, "Back Market double"): a static token, nothing
    expires. A message of the shop goes to the buyer and Back Market alike
    (MERCHANT_TO_ALL), which the suite counts as the buyer's."""

    reading: tuple[str, ...] = ("getCareFolderList", "getCareFolderDetails")
    replying: str = "postMessage"
    revoking: str = "rotate-token"
    answer_cap: int = 8 * 2**20  # the Back Market connector's MAX_RESPONSE_BYTES
    tokenless: str = "Back Market's token is the seller's own, made in its back office"
    account = "number"
    listed_as = {"token": "token", "merchant_id": "merchantId", "country": "country"}
    recipients: tuple[RecipientKind, ...] = ("BUYER",)
    threads: str = "folders"  # a buyer's care folder
    said: str = "message"

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        return {
            **service_env(sandbox_url),
            **suite_pace("BACKMARKET"),
            # Polled every two seconds as the suite's other shops: the day's plan of 4,000
            # calls would space them ~20 s apart.
            "BACKMARKET_CALLS_PER_DAY": "1000000",
        }

    def sandbox_settings(self) -> dict[str, str]:
        return {"SANDBOX_BACKMARKET_EXTRA_SHOPS": "2"}

    async def buyer_names_a_file(
        self, http: httpx.AsyncClient, shop: DoubleShop, text: str, reference: str
    ) -> Written:
        file = {"name": "facture.pdf", "link": reference}  # in the folder's first message
        return written_of(await self._open(http, shop, text, attachments=[file]))

    async def sent(self, http: httpx.AsyncClient, shop: DoubleShop, text: str) -> list[str]:
        sent = await self.sent_log(http, shop)
        return ["BUYER" for s in sent if s["message"] == text]


def drivers() -> dict[str, ShopDriver]:
    return {"BACKMARKET": BackMarketDriver(marketplace="BACKMARKET")}
