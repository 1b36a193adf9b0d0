"""A Mirakl operator's shops polled over its seller API: the seam's ``ShopApi``."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors.seam import DiscussionShopApi, Limits, ShopApiSettings
from keybuzz_shared.file_links import FileLinks

from keybuzz_connector_mirakl.client import MiraklClient
from keybuzz_connector_mirakl.credentials import key_of
from keybuzz_connector_mirakl.replies import PARTICIPANTS
from keybuzz_connector_mirakl.session import MiraklSession
from keybuzz_connector_mirakl.settings import mirakl_api

# Mirakl posts no message of its own when an incident is opened on an order line.
CLAIM_SUBJECT = "Incident Mirakl"


class MiraklShopApi(DiscussionShopApi):
    """A thread's reply goes to the customer, the operator or both; whether the thread
    allows the one asked is read from it at the reply (a FAILED outcome naming its
    participants otherwise). Mirakl lists a reply's text back as sent; its refusals give
    a message, no code of their own."""

    def __init__(self, limits: Limits, operator_name: str) -> None:
        super().__init__(
            limits,
            discussion_recipients=tuple(PARTICIPANTS),
            support_sender="OPERATOR",
            claim_subject=CLAIM_SUBJECT,
        )
        self.operator_name = operator_name

    def session(
        self,
        credentials: Mapping[str, str],
        *,
        http: httpx.AsyncClient,
        settings: ShopApiSettings,
        files: FileLinks | None = None,
    ) -> MiraklSession:
        """``files`` is not used: a thread's files come from the operator's API (M13),
        with the shop's key, at addresses this connector builds from Mirakl's ids."""
        api = mirakl_api(settings)
        client = MiraklClient(
            key_of(credentials),
            http,
            api.api_url,
            operator=api.operator,
            call_deadline=api.call_deadline_seconds,
        )
        return MiraklSession(
            client,
            self.limits,
            operator_name=self.operator_name,
            orders_interval=api.orders_interval_seconds,
        )
