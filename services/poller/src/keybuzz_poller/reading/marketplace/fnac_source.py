"""``ports.MarketplaceMessageSource`` on Fnac's seller API (FNAC and DARTY shops).

Each shop's key is read from Vault (``secret/keybuzz/tenants/<tenant>/<fnac|darty>_api``:
partner_id, shop_id, key) at every poll, and its client (with its token) is kept while the
key stays the same: a reconnected shop's new key is used at its next poll. The client's
errors become the port's: a refused key ``ShopKeyRefused``, an outage
``MarketplaceUnavailable``, a garbled or refused answer ``MarketplaceAnswerInvalid``, each
saying what failed and never a key or token.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

import httpx
from keybuzz_shared.connectors.fnac.client import FnacClient, FnacCredentials
from keybuzz_shared.connectors.fnac.errors import (
    FnacCredentialsRefused,
    FnacError,
    FnacUnavailable,
)
from keybuzz_shared.connectors.fnac.models import (
    DateRange,
    IncidentsQuery,
    Message,
    MessagesQuery,
    MessageUpdate,
)
from keybuzz_shared.connectors.fnac.models import Incident as FnacIncident
from keybuzz_shared.vault import VaultClient

from keybuzz_poller.reading.marketplace.domain import (
    BUYER,
    MARKETPLACE_SUPPORT,
    SELLER,
    SYSTEM,
    FileLink,
    Shop,
    ShopIncident,
    ShopMessage,
)
from keybuzz_poller.reading.marketplace.ports import (
    AttachmentTooLarge,
    AttachmentUnavailable,
    MarketplaceAnswerInvalid,
    MarketplaceUnavailable,
    ShopKeyRefused,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # Fnac's default and largest page
SENDERS = {"CLIENT": BUYER, "CALLCENTER": MARKETPLACE_SUPPORT, "SELLER": SELLER}


def key_path(shop: Shop) -> str:
    return f"secret/keybuzz/tenants/{shop.tenant_id}/{shop.marketplace.lower()}_api"


class FnacMessageSource:
    def __init__(self, vault: VaultClient, base_url: str, timeout: float) -> None:
        self.vault = vault
        self.base_url = base_url
        # TLS verified against the system's CAs, always.
        self.http = httpx.AsyncClient(timeout=timeout)
        self._clients: dict[str, FnacClient] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    async def messages(self, shop: Shop, since: datetime) -> AsyncIterator[list[ShopMessage]]:
        client = await self._client(shop)

        async def page_of(page: int) -> tuple[list[ShopMessage], bool]:
            query = MessagesQuery(
                page=page, results_count=PAGE_SIZE, created=(since, None), sort="ASC"
            )
            with _translated(shop):
                found = await client.messages_query(query)
            _unreadable(shop, "message", found.unreadable)
            return [_message(m) for m in found.messages], found.paging.has_next

        async for items in _pages(page_of):
            yield items

    async def incidents(self, shop: Shop, since: datetime) -> AsyncIterator[list[ShopIncident]]:
        client = await self._client(shop)

        async def page_of(page: int) -> tuple[list[ShopIncident], bool]:
            query = IncidentsQuery(
                page=page,
                results_count=PAGE_SIZE,
                date=DateRange(type="UpdatedAt", min=since),
                sort="ASC",
            )
            with _translated(shop):
                found = await client.incidents_query(query)
            _unreadable(shop, "incident", found.unreadable)
            return [_incident(i) for i in found.incidents], found.paging.has_next

        async for items in _pages(page_of):
            yield items

    async def mark_read(self, shop: Shop, message_ids: Sequence[str]) -> None:
        client = await self._client(shop)
        updates = [MessageUpdate(message_id=i, action="mark_as_read") for i in message_ids]
        with _translated(shop):
            results = await client.messages_update(updates)
        refused = [r for r in results if not r.ok]
        if refused:  # e.g. a message Fnac does not list: nothing to retry
            log.warning(
                "messages not marked read",
                extra={
                    "tenant_id": shop.tenant_id,
                    "marketplace": shop.marketplace,
                    "refused": len(refused),
                },
            )

    async def download(self, shop: Shop, link: FileLink, max_bytes: int) -> bytes:
        if not link.url.lower().startswith(("https://", "http://")):
            raise AttachmentUnavailable(f"{link.name}: not a web address")
        try:
            async with self.http.stream("GET", link.url) as response:
                if response.status_code >= 500:
                    raise MarketplaceUnavailable(
                        f"{shop.marketplace} file server answered {response.status_code}"
                    )
                if response.status_code != 200:
                    raise AttachmentUnavailable(f"{link.name}: HTTP {response.status_code}")
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > max_bytes:
                        raise AttachmentTooLarge(link.name)
                return bytes(content)
        except httpx.HTTPError as exc:
            raise MarketplaceUnavailable(
                f"{shop.marketplace} file server unreachable ({type(exc).__name__})"
            ) from None

    async def _client(self, shop: Shop) -> FnacClient:
        """The shop's client, made again when its key in Vault changed."""
        stored = await self.vault.read(key_path(shop))
        fields = ("partner_id", "shop_id", "key")
        if not stored or not all(isinstance(stored.get(f), str) and stored[f] for f in fields):
            raise ShopKeyRefused(f"no {shop.marketplace} key is stored for the shop")
        credentials = FnacCredentials(*(str(stored[f]) for f in fields))
        client = self._clients.get(shop.key)
        if client is None or client.credentials != credentials:
            client = FnacClient(self.http, self.base_url, credentials)
            self._clients[shop.key] = client
        return client


@contextmanager
def _translated(shop: Shop) -> Iterator[None]:
    name = shop.marketplace
    try:
        yield
    except FnacCredentialsRefused:
        raise ShopKeyRefused(f"{name} refused the shop's key") from None
    except FnacUnavailable as exc:
        raise MarketplaceUnavailable(f"{name} unavailable: {exc}") from None
    except FnacError as exc:  # not XML, truncated, off the schema, ERROR/FATAL
        raise MarketplaceAnswerInvalid(f"{name}: {exc}") from None


def _unreadable(shop: Shop, kind: str, reasons: Sequence[str]) -> None:
    if reasons:
        log.warning(
            f"{kind}s left out: unreadable",
            extra={
                "tenant_id": shop.tenant_id,
                "marketplace": shop.marketplace,
                "reasons": list(reasons)[:5],
            },
        )


def _message(message: Message) -> ShopMessage:
    return ShopMessage(
        message_id=message.message_id,
        thread_type=message.referer_type,
        thread_id=message.referer,
        # A kind of sender Fnac may add later is kept as a notification, never lost.
        sender_type=SENDERS.get(message.from_type, SYSTEM),
        sender_name=message.from_name,
        subject=message.subject,
        body=message.description,
        created_at=message.created_at,
        unread=not message.read,
        files=[
            FileLink(
                name=f.name,
                url=f.url,
                content_type=_content_type(f.name, f.filetype),
            )
            for f in message.files
        ],
    )


def _content_type(name: str, filetype: str | None) -> str:
    """Fnac's ``filetype`` when it is a MIME type, else what the file's name says."""
    if filetype and "/" in filetype:
        return filetype.strip().lower()
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _incident(incident: FnacIncident) -> ShopIncident:
    return ShopIncident(
        incident_id=incident.incident_id,
        order_id=incident.order_id,
        status=incident.status,
        types=list(dict.fromkeys(line.type for line in incident.lines)),
        waiting_for_seller=incident.waiting_for_seller_answer,
        opened_by=incident.opened_by,
        message=incident.message,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
    )


T = TypeVar("T")


async def _pages(
    page_of: Callable[[int], Awaitable[tuple[list[T], bool]]],
) -> AsyncIterator[list[T]]:
    """Fnac's pages from the first, each as soon as it is read, until the last."""
    page = 1
    while True:
        items, more = await page_of(page)
        yield items
        if not more:
            return
        page += 1
