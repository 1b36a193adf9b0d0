"""The eBay double's conformance driver: its shops, consent, messages and faults as the
conformance suite asks for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from keybuzz_sandbox.conformance import ConsentApp, DoubleShop, answered
from keybuzz_sandbox.double_kit.driver import ListedShopsDriver

from . import LISTED_AS, RU_NAME


@dataclass(frozen=True, kw_only=True)
class EbayDriver(ListedShopsDriver):
    reading: tuple[str, ...] = ("getConversations", "getConversation")
    replying: str = "sendMessage"
    revoking: str = "revoke"
    answer_cap: int = 8 << 20  # the eBay connector's SPEC.max_response_bytes
    recipients: tuple[Any, ...] = ("BUYER",)
    file_reference: str = "url"  # a message's files are links the sender hosts

    account = "number"
    listed_as = LISTED_AS
    buyer_says = {}

    async def consent_app(self, http: httpx.AsyncClient, callback_url: str) -> ConsentApp:
        registered = await http.put(
            f"{self.admin}/apps/{RU_NAME}", json={"acceptUrl": callback_url}
        )
        app = answered(registered)
        fields = {
            "client_id": app["clientId"],
            "client_secret": app["clientSecret"],
            "ru_name": RU_NAME,
            "redirect_uri": callback_url,
        }
        return ConsentApp("secret/keybuzz/ebay/app", fields)

    async def consent(
        self, http: httpx.AsyncClient, consent_url: str, shop: DoubleShop, *, decline: bool = False
    ) -> str:
        """The double's page has a link per seller: the shop's seller follows its own."""
        chosen = {"decline": "1"} if decline else {"user": shop.account}
        answer = await http.get(httpx.URL(consent_url).copy_merge_params(chosen))
        if answer.status_code not in (302, 303, 307):
            raise AssertionError(f"the consent page answered {answer.status_code}: {answer.text}")
        return str(answer.headers["location"])
