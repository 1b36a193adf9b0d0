"""A marketplace's API as ``replies/ports.py``'s ``MarketplaceReplies``: the connector's session (the seam's
reply channel) on the tenant's shop, its key read from Vault at every attempt
(the connector's ``credentials_path``); a session (and its token) is
kept while the key stays the same, so a reconnected shop's new key is used at once. The
sessions are the polls' (``ShopSessions``) when the process gives them: one per shop."""

from __future__ import annotations

from datetime import datetime

import httpx
from keybuzz_shared.connectors.seam import (
    Connector,
    InboxMessage,
    Limits,
    MarketplaceSession,
    Recipient,
    Reply,
    ReplyOutcome,
    ShopApiSettings,
    ThreadKey,
    shop_api_of,
)
from keybuzz_shared.connectors.shop_sessions import ShopSessions
from keybuzz_shared.vault import VaultClient


class ShopReplies:
    def __init__(
        self,
        connector: Connector,
        vault: VaultClient,
        http: httpx.AsyncClient,
        settings: ShopApiSettings,
        sessions: ShopSessions | None = None,
    ) -> None:
        self.connector = connector
        marketplace = connector.marketplace
        self.sessions = sessions or ShopSessions(
            vault, {marketplace: http}, {marketplace: settings}
        )

    @property
    def limits(self) -> Limits:
        return self.connector.limits

    def reply_text(self, text: str) -> str:
        return shop_api_of(self.connector).reply_text(text)

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        return shop_api_of(self.connector).recipients(thread)

    async def reply(self, tenant_id: str, reply: Reply) -> ReplyOutcome:
        return await (await self._session(tenant_id)).reply(reply)

    async def sent_messages(
        self, tenant_id: str, thread: ThreadKey, since: datetime
    ) -> list[InboxMessage]:
        return await (await self._session(tenant_id)).sent_messages(thread, since)

    async def _session(self, tenant_id: str) -> MarketplaceSession:
        return await self.sessions.open(self.connector, tenant_id)
