"""Cdiscount's shops polled over Octopia's seller API: the seam's ``ShopApi``."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors.seam import DiscussionShopApi, Limits, ShopApiSettings
from keybuzz_shared.file_links import NO_FILES, FileLinks

from keybuzz_connector_cdiscount.client import OctopiaClient
from keybuzz_connector_cdiscount.credentials import credentials_of
from keybuzz_connector_cdiscount.replies import USER_TYPES
from keybuzz_connector_cdiscount.session import CdiscountSession
from keybuzz_connector_cdiscount.settings import octopia_api

# Octopia opens no claim with a message of its own in a thread (a claim is a discussion
# whose graduation changed: the discussion's claim flag); incidents are never listed.
CLAIM_SUBJECT = "Litige Cdiscount"


class CdiscountShopApi(DiscussionShopApi):
    """A discussion's reply goes to the buyer, Octopia's customer care or both; whether
    customer care is among the discussion's eligible recipients is Octopia's to say at
    the reply (refused with the eligible ones named otherwise). Octopia lists a reply's
    text back as sent; its refusals give a reason, no code of their own."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(
            limits,
            discussion_recipients=tuple(USER_TYPES),
            support_sender="GrcOperator",
            claim_subject=CLAIM_SUBJECT,
        )

    def session(
        self,
        credentials: Mapping[str, str],
        *,
        http: httpx.AsyncClient,
        settings: ShopApiSettings,
        files: FileLinks | None = None,
    ) -> CdiscountSession:
        api = octopia_api(settings)
        client = OctopiaClient(
            credentials_of(credentials),
            http,
            api.api_url,
            api.auth_url,
            call_deadline=api.call_deadline_seconds,
            files=files or NO_FILES,
        )
        # Marking a burst of messages read stops within a quarter of a call's deadline,
        # the rest left to the next poll (DiscussionInbox.mark_read).
        budget = api.call_deadline_seconds / 4
        return CdiscountSession(client, self.limits, mark_budget=budget)
