"""Back Market's shops polled over its seller API: the seam's ``ShopApi``."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors.seam import (
    Limits,
    Recipient,
    ReplyOutcome,
    SenderType,
    ShopApiSettings,
    ThreadKey,
)
from keybuzz_shared.file_links import NO_FILES, FileLinks

from keybuzz_connector_backmarket.client import BackMarketClient
from keybuzz_connector_backmarket.credentials import access_of, platform_of
from keybuzz_connector_backmarket.replies import RECIPIENTS
from keybuzz_connector_backmarket.session import BackMarketSession
from keybuzz_connector_backmarket.settings import backmarket_api

# Back Market's claims are on the care folder itself: no message of its own opens one.
CLAIM_SUBJECT = "Réclamation Back Market"


class BackMarketShopApi:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def session(
        self,
        credentials: Mapping[str, str],
        *,
        http: httpx.AsyncClient,
        settings: ShopApiSettings,
        files: FileLinks | None = None,
    ) -> BackMarketSession:
        api = backmarket_api(settings)
        client = BackMarketClient(
            access_of(credentials, api.user_agent),
            http,
            api.platform_url(platform_of(credentials)),
            call_deadline=api.call_deadline_seconds,
            files=files or NO_FILES,
        )
        return BackMarketSession(client, self.limits)

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        """A folder's message goes to the buyer and Back Market alike (MERCHANT_TO_ALL)."""
        return RECIPIENTS if thread.kind == "DISCUSSION" else ()

    def reply_text(self, text: str) -> str:
        return text  # multipart carries any text

    def refusal_codes(self, outcome: ReplyOutcome) -> tuple[str, ...]:
        return ()  # Back Market's refusals (400) give no code of their own [official]

    @property
    def claim_subject(self) -> str:
        return CLAIM_SUBJECT

    def claim_opener(self, opened_by: str | None) -> SenderType:
        return "MARKETPLACE_SUPPORT" if opened_by == "BackMarket" else "BUYER"
