"""``ports.MarketplaceMessageSource`` on the API of each marketplace whose connector has a
``shop_api`` part: the inbox of the shop's one session (docs/ARCHITECTURE.md, "The
connector seam").

Each shop's credentials are read from Vault (the connector's ``credentials_path``) once
a poll, when it opens, and its session is kept while they stay the same (``sessions``,
shared with the replies through the API: one token per shop): a reconnected shop's new
key is used at its next poll. The connector's errors become the port's: refused
credentials ``ShopKeyRefused``, an outage ``MarketplaceUnavailable``, any other failure (a
garbled or refused answer) ``MarketplaceAnswerInvalid``, each saying what failed and never
a key or token.

Each call to the marketplace (a page, a mark) ends within its ``call_deadline_seconds``, its
retries included: the HTTP client's timeout is per read, and an answer trickling in a byte
at a time would otherwise hold the poll, and its worker, for as long as it lasts. A call cut
at its deadline is ``MarketplaceUnavailable``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import TypeVar, cast

import httpx
from keybuzz_shared.addresses import checked_addresses
from keybuzz_shared.connectors import seam
from keybuzz_shared.connectors.connector_settings import ShopApiSettings
from keybuzz_shared.connectors.kit.listing import SAME_NEXT, RepeatedPages
from keybuzz_shared.connectors.registry import PerMarketplace, connector_for
from keybuzz_shared.connectors.seam import InboxFile, InboxIncident, InboxMessage, Page
from keybuzz_shared.connectors.shop_sessions import ShopSessions
from keybuzz_shared.file_links import FileLinks, FileTooLarge, FileUnavailable, LinkRefused
from keybuzz_shared.http_pools import SpreadTransport
from keybuzz_shared.protocol_checks import conforms
from keybuzz_shared.spent_calls import CallsBound, listing_stopped
from keybuzz_shared.vault import VaultClient

from keybuzz_poller.shops.closing_ports import CloseRefused
from keybuzz_poller.shops.domain import (
    Shop,
)
from keybuzz_poller.shops.ports import (
    AttachmentRefused,
    AttachmentTooLarge,
    AttachmentUnavailable,
    MarketplaceAnswerInvalid,
    MarketplaceUnavailable,
    ShopKeyRefused,
)

log = logging.getLogger(__name__)
Item = TypeVar("Item")


def key_path(shop: Shop) -> str:
    """Where in Vault the shop's credentials are (the connector's ``credentials_path``)."""
    return connector_for(shop.marketplace).credentials_path(shop.tenant_id)


class ApiMessageSource:
    def __init__(
        self, vault: VaultClient, apis: Mapping[str, ShopApiSettings], *, inside_allowed: bool
    ) -> None:
        # marketplace -> how its API is reached, its own settings (made on first use: a
        # marketplace served after start-up is polled like the others)
        self.apis = apis

        def file_links(connector: seam.Connector) -> FileLinks:
            """Where its messages' files may come from."""
            allowed = apis[connector.marketplace].attachment_origins
            return FileLinks(allowed, inside_allowed=inside_allowed)

        def client(connector: seam.Connector) -> httpx.AsyncClient:
            # TLS verified against the system's CAs, always; the marketplace's read timeout.
            # No cap on connections: the scheduler bounds the polls running at once, and a
            # pool of httpx's default 100 would let stalled shops' calls hold every
            # connection, the healthy shops' calls waiting. Several small pools to a client:
            # one pool's upkeep grows with the calls and connections it holds. Its
            # addresses (a catalogue's, a file's) checked as each connection is made.
            limits = httpx.Limits(max_connections=None)
            checked = checked_addresses(inside_allowed=inside_allowed)
            return httpx.AsyncClient(
                timeout=apis[connector.marketplace].timeout_seconds,
                transport=SpreadTransport(limits=limits, addresses=checked),
            )

        self._http = PerMarketplace(client)
        self.sessions = ShopSessions(vault, self._http, self.apis, PerMarketplace(file_links))

    def http(self, marketplace: str) -> httpx.AsyncClient:
        """The client calls to ``marketplace``'s API are made on."""
        return self._http[marketplace]

    def call_deadline(self, shop: Shop) -> float:
        return self.apis[shop.marketplace].call_deadline_seconds

    async def aclose(self) -> None:
        for http in self._http.made():
            await http.aclose()

    def allowance_calls(self, shop: Shop) -> int | None:
        """``ports.CountsCalls``: the calls of the daily allowance the shop's session made,
        when its connector's session counts them."""
        session = self.sessions.kept(shop.marketplace, shop.tenant_id)
        if conforms(session, seam.CountsAllowanceCalls):
            return cast(seam.CountsAllowanceCalls, session).allowance_calls()
        return None

    def limit_allowance_calls(self, shop: Shop, total: int | None) -> bool:
        """``ports.LimitsCalls``: the shop's session makes no call of the allowance that
        would take its count past ``total`` (None: no limit); False when it cannot be told."""
        session = self.sessions.kept(shop.marketplace, shop.tenant_id)
        if not conforms(session, seam.LimitsAllowanceCalls):
            return False
        cast(seam.LimitsAllowanceCalls, session).limit_allowance_calls(total)
        return True

    def forget_key(self, shop: Shop) -> None:
        """The shop's next poll reads its key from Vault (it changed, or the shop is gone)."""
        self.sessions.forget_credentials(connector_for(shop.marketplace), shop.tenant_id)

    async def _refused(self, shop: Shop) -> Exception:
        """What a refused key means: REAUTH_REQUIRED, unless Vault holds another key than
        the one refused (replaced meanwhile): then an outage this poll, the next on the new
        key. The cached key is dropped either way."""
        if await self.sessions.credentials_changed(connector_for(shop.marketplace), shop.tenant_id):
            return MarketplaceUnavailable(f"{shop.marketplace} refused a key since replaced")
        return ShopKeyRefused(f"{shop.marketplace} refused the shop's key")

    async def open(self, shop: Shop) -> None:
        try:
            await self.sessions.open(connector_for(shop.marketplace), shop.tenant_id)
        except seam.CredentialsRefused as exc:
            raise ShopKeyRefused(str(exc)) from None

    async def messages(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxMessage]]:
        session = await self._session(shop)

        async def page_of(cursor: str | None) -> Page[InboxMessage]:
            return await session.inbox_messages(since=since, cursor=cursor)

        async for items in _pages(shop, "message", page_of, self._translating(shop)):
            yield list(items)

    async def incidents(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxIncident]]:
        session = await self._session(shop)

        async def page_of(cursor: str | None) -> Page[InboxIncident]:
            return await session.incidents(since=since, cursor=cursor)

        async for items in _pages(shop, "incident", page_of, self._translating(shop)):
            yield list(items)

    async def mark_read(self, shop: Shop, message_ids: Sequence[str]) -> None:
        session = await self._session(shop)
        async with self._translating(shop)():
            refused = await session.mark_read(message_ids)
        if refused:  # e.g. a message the marketplace does not list: nothing to retry
            log.warning(
                "messages not marked read",
                extra={
                    "tenant_id": shop.tenant_id,
                    "marketplace": shop.marketplace,
                    "refused": refused,
                },
            )

    async def response_delay(
        self, shop: Shop, figures: seam.ResponseFigures, since: datetime, until: datetime
    ) -> seam.ResponseFigure | None:
        """The marketplace's own response figure of the shop, through its session."""
        session = await self._session(shop)
        async with self._translating(shop)():
            return await figures.response_delay(session, since=since, until=until)

    async def close_thread(
        self, shop: Shop, part: seam.ThreadClosing, thread: seam.ThreadKey
    ) -> None:
        """``closing_ports.ThreadCloser``: the thread closed through the shop's session; a
        refusal is the marketplace's reason (``CloseRefused``), not a failed call."""
        session = await self._session(shop)
        async with self._translating(shop)():
            try:
                await part.close_thread(session, thread)
            except seam.RequestRefused as exc:
                reason = exc.detail if isinstance(exc, seam.CallRefused) else str(exc)
                raise CloseRefused(
                    f"{shop.marketplace} refused to close the ticket: {reason}"
                ) from None

    async def download(self, shop: Shop, link: InboxFile, max_bytes: int) -> bytes:
        """The file through the shop's session (its auth, its marketplace's origins)."""
        session = await self._session(shop)
        try:
            return await session.file(link, max_bytes)
        except LinkRefused as exc:
            raise AttachmentRefused(f"{link.name}: {exc}") from None
        except FileTooLarge:
            raise AttachmentTooLarge(link.name) from None
        except FileUnavailable as exc:
            raise AttachmentUnavailable(f"{link.name}: HTTP {exc.status}") from None
        except seam.CredentialsRefused:
            raise await self._refused(shop) from None
        except seam.MarketplaceUnavailable as exc:
            raise MarketplaceUnavailable(f"{shop.marketplace} file server: {exc}") from None
        except CallsBound:  # the poll's calls are spent: the poll ends, the file not lost
            raise
        except Exception:
            # A link the connector cannot fetch (an id naming another path, a field it cannot
            # read) costs this file only: never the message, nor the rest of the inbox.
            log.warning(
                "file link refused by its connector",
                extra={"tenant_id": shop.tenant_id, "marketplace": shop.marketplace},
                exc_info=True,
            )
            raise AttachmentRefused(f"{link.name}: not a file of the marketplace") from None

    def _translating(self, shop: Shop) -> Callable[[], AbstractAsyncContextManager[None]]:
        """One call of the shop's to the marketplace: within its deadline, its errors the
        port's (``_translated``)."""
        deadline = self.call_deadline(shop)
        return lambda: _translated(shop, deadline, self._refused)

    async def _session(self, shop: Shop) -> seam.MarketplaceSession:
        """The session the shop's poll opened (opened now if none was)."""
        try:
            return await self.sessions.last(connector_for(shop.marketplace), shop.tenant_id)
        except seam.CredentialsRefused as exc:
            raise ShopKeyRefused(str(exc)) from None


@asynccontextmanager
async def _translated(
    shop: Shop, deadline: float, refused: Callable[[Shop], Awaitable[Exception]]
) -> AsyncIterator[None]:
    """One call to the marketplace: within ``deadline`` seconds, its errors the port's."""
    name = shop.marketplace
    timeout = asyncio.timeout(deadline)
    try:
        async with timeout:
            yield
    except TimeoutError:
        if not timeout.expired():
            raise
        raise MarketplaceUnavailable(f"{name} call cut at its deadline ({deadline:g} s)") from None
    except seam.CredentialsRefused:
        raise await refused(shop) from None
    except seam.MarketplaceUnavailable as exc:
        raise MarketplaceUnavailable(f"{name} unavailable: {exc}") from None
    except seam.ConnectorError as exc:  # not XML, truncated, off the schema, ERROR/FATAL
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


async def _pages(
    shop: Shop,
    kind: str,
    page_of: Callable[[str | None], Awaitable[Page[Item]]],
    translated: Callable[[], AbstractAsyncContextManager[None]],
) -> AsyncIterator[tuple[Item, ...]]:
    """The marketplace's pages from the first, each as soon as it is read, until the last:
    each page's cursor, opaque here, asks for the next one. A page naming a next page already
    asked, or listing the items of the two pages before again, ends the listing, whatever
    the connector's paging (it would page on for ever). One page repeating the one before is
    read on: a listing by instant (the kit's ``Seek``) asks again from a page's newest
    instant, and a page all at that instant comes back once before it pages by number."""
    cursor: str | None = None
    asked: set[str] = set()
    repeated = RepeatedPages(f"{kind}s", _where(shop))
    while True:
        async with translated():
            found = await page_of(cursor)
        _unreadable(shop, kind, found.unreadable)
        if repeated.end(found.items):
            return
        yield found.items
        if found.next_cursor is None:
            return
        if found.next_cursor in asked:
            listing_stopped(f"{kind}s", SAME_NEXT, _where(shop))
            return
        cursor = found.next_cursor
        asked.add(cursor)


def _where(shop: Shop) -> dict[str, str]:
    return {"tenant_id": shop.tenant_id, "marketplace": shop.marketplace}
