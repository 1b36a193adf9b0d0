"""``order_source.OrderSource`` for a marketplace whose shops are read over its API (a
connector's ``shop_api``):
chosen by the ``marketplace`` of a job, a sync cursor or a message, through
``keybuzz_shared.connectors.registry``, never by naming one here.

A shop's credentials are read from Vault (the connector's ``credentials_path``) at every
call, and its session (with its token) kept while they stay the same: a reconnected
shop's new key is used at once; a session that shares its token keeps it in Vault
beside the key (``shop_sessions.sharing_token``). A backfill's window is read in date windows by creation
(``orders_created``), each page by page; the page token carries where it stands, so a
resumed job reads the next page. A sync reads by update (``orders``) from the cursor.
The seam's failures become the port's: a refused key ``ShopKeyRefused`` (reported once
per key as ``connection.reauth_required``), an outage ``SourceUnavailable``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta

import httpx
import msgspec
from keybuzz_shared.connectors.credential_form import account_name, account_of
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import (
    ConnectorError,
    CredentialsRefused,
    MarketplaceSession,
    MarketplaceUnavailable,
    OrderSummary,
    Page,
    ShopApiSettings,
    shop_api_of,
)
from keybuzz_shared.connectors.shop_sessions import (
    KeptSessions,
    sharing_token,
    stored_credentials,
)
from keybuzz_shared.vault import VaultClient

from keybuzz_orders.domain import OrderRow, connector_order_row
from keybuzz_orders.order_source import (
    FetchedOrders,
    NotConnected,
    NotFound,
    OrderWindow,
    QueryRefused,
    SourcePage,
    SourceUnavailable,
)
from keybuzz_orders.ports import Marketplaces

log = logging.getLogger(__name__)

# (tenant, marketplace, shop id, why): says so once per refused key.
KeyRefusedReporter = Callable[[str, str, str, str], Awaitable[None]]


class ShopKeyRefused(NotConnected):
    """No key stored for the shop, or the marketplace refused it: the seller connects again."""


class _Backfill(msgspec.Struct, array_like=True, frozen=True):
    """A backfill's page token: the whole window's end, the date window being read from
    ``start``, and the connector's cursor within it."""

    end: datetime
    start: datetime
    cursor: str | None = None


def _token(state: _Backfill) -> str:
    return base64.urlsafe_b64encode(msgspec.msgpack.encode(state)).decode()


def _state(token: str) -> _Backfill:
    try:
        return msgspec.msgpack.decode(base64.urlsafe_b64decode(token.encode()), type=_Backfill)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise QueryRefused("not a page token this source handed out") from None


class ConnectorOrderSource:
    def __init__(
        self,
        marketplace: str,
        vault: VaultClient,
        http: httpx.AsyncClient,
        settings: ShopApiSettings,
        *,
        window_days: int,
        clock: Callable[[], datetime],
        on_key_refused: KeyRefusedReporter | None = None,
    ) -> None:
        self.marketplace = marketplace
        self.connector = connector_for(marketplace)
        self.vault = vault
        self.http = http
        self.settings = settings  # its connector's, handed to its sessions unread
        self.window = timedelta(days=window_days)
        self.clock = clock
        self._report = on_key_refused
        self._sessions = KeptSessions[MarketplaceSession]()
        self._reported: dict[str, str] = {}  # tenant -> fingerprint of the key reported

    # --- the port -------------------------------------------------------------------------

    async def orders_in_window(self, tenant_id: str, window: OrderWindow) -> SourcePage:
        session, shop_id = await self._session(tenant_id)
        if window.updated_after is not None:
            async with self._failures(tenant_id, reported_by_caller=True):
                page = await session.orders(since=window.updated_after, cursor=window.page_token)
            return SourcePage(
                orders=self._rows(page, shop_id),
                next_token=page.next_cursor,
                updated_before=page.complete_until,
            )
        if window.page_token is not None:
            state = _state(window.page_token)
        elif window.created_after is not None:
            state = _Backfill(end=window.created_before or self.clock(), start=window.created_after)
        else:
            raise QueryRefused("a window starts at a creation or an update")
        until = min(state.start + self.window, state.end)
        async with self._failures(tenant_id, reported_by_caller=True):
            page = await session.orders_created(start=state.start, end=until, cursor=state.cursor)
        if page.next_cursor is not None:
            following: _Backfill | None = _Backfill(state.end, state.start, page.next_cursor)
        else:
            following = _Backfill(state.end, until) if until < state.end else None
        return SourcePage(
            orders=self._rows(page, shop_id),
            next_token=_token(following) if following else None,
            created_before=None if following else state.end,
        )

    async def order(self, tenant_id: str, order_id: str) -> OrderRow:
        fetched = await self.orders_by_ids(tenant_id, [order_id])
        if not fetched.orders:
            raise NotFound(f"no {self.marketplace} order {order_id} for this shop")
        return fetched.orders[0]

    async def orders_by_ids(self, tenant_id: str, order_ids: Sequence[str]) -> FetchedOrders:
        session, shop_id = await self._session(tenant_id)
        async with self._failures(tenant_id):
            found = await session.orders_by_id(order_ids)
        rows = [connector_order_row(o, shop_id) for o in found]
        given = {r.external_order_id for r in rows}
        refused = {
            o: f"{self.marketplace} has no order {o} for this shop"
            for o in order_ids
            if o not in given
        }
        return FetchedOrders(orders=rows, refused=refused)

    # --- a shop's session -----------------------------------------------------------------

    async def _session(self, tenant_id: str) -> tuple[MarketplaceSession, str]:
        """The shop's session, made again when its credentials in Vault changed."""
        fields = await stored_credentials(self.vault, self.connector, tenant_id)
        if fields is None:
            raise ShopKeyRefused(f"no {self.marketplace} key is stored for the shop")
        path = self.connector.credentials_path(tenant_id)
        session = self._sessions.on(
            tenant_id,
            fields,
            lambda: sharing_token(
                shop_api_of(self.connector).session(fields, http=self.http, settings=self.settings),
                self.vault,
                path,
            ),
        )
        return session, account_of(self.connector.credential_fields, fields)

    @contextlib.asynccontextmanager
    async def _failures(
        self, tenant_id: str, *, reported_by_caller: bool = False
    ) -> AsyncIterator[None]:
        """The seam's failures as the port's. A refused key is reported here, or by the
        caller (``reported_by_caller``: a window's reader, whose job or sync ends first)
        through ``ShopKeyRefused.report``."""
        name = self.marketplace
        try:
            yield
        except CredentialsRefused:
            reason = f"{name} refused the shop's key: the seller must connect the shop again"
            report = functools.partial(self._key_refused, tenant_id, reason)
            if not reported_by_caller:
                await report()
                raise ShopKeyRefused(reason) from None
            raise ShopKeyRefused(reason, report=report) from None
        except MarketplaceUnavailable as exc:
            raise SourceUnavailable(f"{name} unavailable: {exc}", "unavailable") from None
        except ConnectorError as exc:  # refused (ERROR/FATAL) or an answer we cannot read
            raise QueryRefused(f"{name}: {exc}"[:500], "refused") from None
        except ValueError:  # a cursor the connector never gave
            raise QueryRefused(f"{name}: not a page token this source handed out") from None

    async def _key_refused(self, tenant_id: str, reason: str) -> None:
        """Says once per key that the shop's key was refused (``connection.reauth_required``);
        a report that fails is tried again at the next refusal."""
        held = self._sessions.last(tenant_id)
        fields = held[0] if held else {}
        shop_id = account_of(self.connector.credential_fields, fields) if fields else ""
        fingerprint = hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()
        if self._report is None or self._reported.get(tenant_id) == fingerprint:
            return
        try:
            await self._report(tenant_id, self.marketplace, shop_id, reason)
        except Exception:
            log.exception("could not report reauth_required", extra={"tenant_id": tenant_id})
            return
        self._reported[tenant_id] = fingerprint
        log.warning(
            "shop key refused: reauthorization required",
            extra={"tenant_id": tenant_id, "marketplace": self.marketplace},
        )

    def _rows(self, page: Page[OrderSummary], shop_id: str) -> list[OrderRow]:
        return [connector_order_row(o, shop_id) for o in page.items]


class VaultMarketplaces:
    """``ports.Marketplaces``: the order feed's (``feed``) for a marketplace whose connector
    has one, else the shop id stored with the shop's key in Vault (the field its connector
    declares ``account``)."""

    def __init__(self, vault: VaultClient, feed: Marketplaces | None) -> None:
        self.vault = vault
        self.feed = feed

    async def marketplace_id(self, tenant_id: str, marketplace: str) -> str:
        connector = connector_for(marketplace)
        if connector.order_feed is not None and self.feed is not None:
            return await self.feed.marketplace_id(tenant_id, marketplace)
        stored = await self.vault.read(connector.credentials_path(tenant_id)) or {}
        shop_id = str(stored.get(account_name(connector.credential_fields)) or "")
        if not shop_id:
            raise ShopKeyRefused(f"no {marketplace} key is stored for the shop")
        return shop_id
