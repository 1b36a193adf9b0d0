"""A marketplace's API as ``ports.MarketplaceReplies``: the connector's session (the seam's
reply channel) on the tenant's shop, its key read from Vault at every attempt
(the connector's ``credentials_path``); a session (and its token) is
kept while the key stays the same, so a reconnected shop's new key is used at once."""

from __future__ import annotations

from datetime import datetime

import httpx
from keybuzz_shared.connectors.seam import (
    Connector,
    CredentialsRefused,
    Limits,
    MarketplaceMessage,
    MarketplaceSession,
    Reply,
    ReplyOutcome,
    ThreadKey,
    shop_api_of,
)
from keybuzz_shared.connectors.shop_sessions import KeptSessions, stored_credentials
from keybuzz_shared.vault import VaultClient


class ShopReplies:
    def __init__(
        self, connector: Connector, vault: VaultClient, http: httpx.AsyncClient, base_url: str
    ) -> None:
        self.connector = connector
        self.vault = vault
        self.http = http  # TLS verified against the system's CAs, always
        self.base_url = base_url
        self._sessions = KeptSessions[MarketplaceSession]()

    @property
    def limits(self) -> Limits:
        return self.connector.limits

    def reply_text(self, text: str) -> str:
        return shop_api_of(self.connector).reply_text(text)

    async def reply(self, tenant_id: str, reply: Reply) -> ReplyOutcome:
        return await (await self._session(tenant_id)).reply(reply)

    async def sent_messages(
        self, tenant_id: str, thread: ThreadKey, since: datetime
    ) -> list[MarketplaceMessage]:
        return await (await self._session(tenant_id)).sent_messages(thread, since)

    async def _session(self, tenant_id: str) -> MarketplaceSession:
        marketplace = self.connector.marketplace
        credentials = await stored_credentials(self.vault, self.connector, tenant_id)
        if credentials is None:
            raise CredentialsRefused(f"no {marketplace} key is stored for the shop")
        return self._sessions.on(
            tenant_id,
            credentials,
            lambda: shop_api_of(self.connector).session(
                credentials, http=self.http, base_url=self.base_url
            ),
        )
