"""Back Market's shops polled over its seller API: the seam's ``ShopApi``."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors.seam import DiscussionShopApi, Limits, ShopApiSettings
from keybuzz_shared.file_links import NO_FILES, FileLinks

from keybuzz_connector_backmarket.client import BackMarketClient
from keybuzz_connector_backmarket.credentials import access_of, platform_of
from keybuzz_connector_backmarket.replies import RECIPIENTS
from keybuzz_connector_backmarket.session import BackMarketSession
from keybuzz_connector_backmarket.settings import backmarket_api

# Back Market's claims are on the care folder itself: no message of its own opens one.
CLAIM_SUBJECT = "Réclamation Back Market"


class BackMarketShopApi(DiscussionShopApi):
    """A folder's message goes to the buyer and Back Market alike (MERCHANT_TO_ALL);
    multipart carries any text; Back Market's refusals (400) give no code of their own
    [official]."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(
            limits,
            discussion_recipients=RECIPIENTS,
            support_sender="BackMarket",
            claim_subject=CLAIM_SUBJECT,
        )

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
