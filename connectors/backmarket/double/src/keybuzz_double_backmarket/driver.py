"""The Back Market double's conformance driver (``keybuzz_sandbox.conformance``)."""

from __future__ import annotations

from dataclasses import dataclass

from keybuzz_sandbox.conformance import RecipientKind
from keybuzz_sandbox.double_kit.driver import ListedShopsDriver


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
    file_reference: str = "link"
    suite_settings = {"EXTRA_SHOPS": "2"}
    logged_said = "message"
    opening_file = {}  # in the folder's first message

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        # Polled every two seconds as the suite's other shops: the day's plan of 4,000
        # calls would space them ~20 s apart.
        return super().service_settings(sandbox_url) | {"BACKMARKET_CALLS_PER_DAY": "1000000"}
