"""A shop-API connector from its declaration: what its marketplace is, how a reply's
discussion is addressed, the settings view its sessions take, and the one function that
opens a shop's session from its credentials. The seam's ``Connector`` and ``ShopApi``
members are the kit's; a connector writes its client, its mappings and that function.

A session is the shop's three parts on its one client (``KitSession``); where the
marketplace counts a call against a daily allowance (``ApiSpec.allowance_call``), the
session says how many it made and stops at the poller's limit (``AllowanceSession``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

import httpx

from keybuzz_shared.connectors.kit.auth import ClientCredentials
from keybuzz_shared.connectors.kit.requester import Requester
from keybuzz_shared.connectors.seam import (
    ConnectorDefaults,
    CredentialCheck,
    CredentialField,
    DiscussionShopApi,
    InboundAddresses,
    Limits,
    MailRelay,
    MarketplaceSession,
    OrderIds,
    OrderSource,
    PartsSession,
    Recipient,
    RedirectFlow,
    Reply,
    ReplyChannel,
    ReplyOutcome,
    ResponseFigure,
    ResponseFigures,
    ResponseWindow,
    SenderType,
    SessionInbox,
    ShopApi,
    ShopApiSettings,
    ThreadKey,
    ThreadStanding,
    TokenStore,
)
from keybuzz_shared.file_links import NO_FILES, FileLinks
from keybuzz_shared.settings import PartSettings

S = TypeVar("S", bound=ShopApiSettings)
# Why the marketplace would refuse a reply on a thread standing so at an instant, in words
# an agent reads; None when it may go.
Gate = Callable[[Reply, ThreadStanding, datetime], str | None]
S_contra = TypeVar("S_contra", bound=ShopApiSettings, contravariant=True)


class OpenSession(Protocol[S_contra]):
    def __call__(
        self,
        credentials: Mapping[str, str],
        http: httpx.AsyncClient,
        api: S_contra,
        files: FileLinks,
    ) -> MarketplaceSession:
        """A session on one shop: its client on ``api`` (the connector's settings view),
        its parts on the client; ValueError when a credential field is missing."""
        ...


@dataclass(frozen=True)
class Discussions:
    """Where a reply goes: ``recipients`` in a discussion (no one elsewhere); a claim
    opened by ``support_sender`` is the marketplace's customer care's; ``claim_subject``:
    the subject a claim without its notice is shown under.

    Where the marketplace's threads are others than discussions (an order's, an offer's):
    ``threads``, their kinds; ``carried``, what its messages carry of a reply's text (an
    XML API holds no control character); ``codes``, its own codes in a refused reply's
    reason; ``buyer_opener``, the opener a claim is the buyer's by, any other (or none)
    its staff's, where the marketplace names the buyer rather than its staff.

    Where the marketplace takes a reply only while its thread stands so (a claim, too long
    since the order): ``gate``, why it would refuse one (the seam's ``ReplyGate``, asked
    before the reply is queued); absent, every reply may go."""

    recipients: tuple[Recipient, ...]
    support_sender: str
    claim_subject: str
    threads: frozenset[str] = frozenset({"DISCUSSION"})
    carried: Callable[[str], str] | None = None
    codes: Callable[[str], tuple[str, ...]] | None = None
    buyer_opener: str = ""
    gate: Gate | None = None


def settings_view(settings: ShopApiSettings, view: type[S], marketplace: str) -> S:
    """``settings`` as the connector's ``shop_api`` made them; TypeError for another view."""
    if not isinstance(settings, view):
        raise TypeError(
            f"a {marketplace} session needs the shop API view {view.__name__}, "
            f"not {type(settings).__name__}"
        )
    return settings


class KitShopApi(DiscussionShopApi, Generic[S]):
    """The seam's ``ShopApi`` of a connector whose replies go in a discussion."""

    def __init__(
        self,
        limits: Limits,
        discussions: Discussions,
        view: type[S],
        open_session: OpenSession[S],
        *,
        marketplace: str,
    ) -> None:
        super().__init__(
            limits,
            discussion_recipients=discussions.recipients,
            support_sender=discussions.support_sender,
            claim_subject=discussions.claim_subject,
        )
        self._view = view
        self._open = open_session
        self._marketplace = marketplace
        self._discussions = discussions

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        declared = self._discussions
        return declared.recipients if thread.kind in declared.threads else ()

    def reply_text(self, text: str) -> str:
        carried = self._discussions.carried
        return carried(text) if carried is not None else text

    def refusal_codes(self, outcome: ReplyOutcome) -> tuple[str, ...]:
        codes = self._discussions.codes
        return codes(outcome.reason or "") if codes is not None else ()

    def claim_opener(self, opened_by: str | None) -> SenderType:
        buyer = self._discussions.buyer_opener
        if not buyer:
            return super().claim_opener(opened_by)
        return "BUYER" if (opened_by or "").lower() == buyer.lower() else "MARKETPLACE_SUPPORT"

    def session(
        self,
        credentials: Mapping[str, str],
        *,
        http: httpx.AsyncClient,
        settings: ShopApiSettings,
        files: FileLinks | None = None,
    ) -> MarketplaceSession:
        api = settings_view(settings, self._view, self._marketplace)
        return self._open(credentials, http, api, files or NO_FILES)


class GatedShopApi(KitShopApi[S]):
    """A ``KitShopApi`` whose discussions declare a ``gate``: the seam's ``ReplyGate``."""

    def reply_refusal(self, reply: Reply, standing: ThreadStanding, now: datetime) -> str | None:
        gate = self._discussions.gate
        return gate(reply, standing, now) if gate is not None else None


def kit_shop_api(
    limits: Limits,
    discussions: Discussions,
    view: type[S],
    open_session: OpenSession[S],
    *,
    marketplace: str,
) -> KitShopApi[S]:
    """The shop API of ``discussions``: a ``ReplyGate`` only where they declare a gate (the
    poller asks a gate by its type)."""
    kind = KitShopApi if discussions.gate is None else GatedShopApi
    return kind(limits, discussions, view, open_session, marketplace=marketplace)


class ShopConnector(ConnectorDefaults):
    """The seam's ``Connector`` of a marketplace polled shop by shop over its API (no
    order feed); its buyers' mails come through its ``mail_relay`` at its
    ``inbound_addresses`` where it has them. Its seller types its credentials, or consents
    on the marketplace's site (its ``redirect_flow``): kept under the name ``secret`` under
    its tenant in Vault."""

    def __init__(
        self,
        *,
        marketplace: str,
        display_name: str,
        secret: str,
        credential_fields: tuple[CredentialField, ...],
        limits: Limits,
        settings_type: type[PartSettings],
        shop_api: ShopApi,
        credential_check: CredentialCheck | None,
        order_ids: OrderIds,
        response_window: ResponseWindow | None = None,
        response_figures: ResponseFigures | None = None,
        mail_relay: MailRelay | None = None,
        inbound_addresses: InboundAddresses | None = None,
        redirect_flow: RedirectFlow | None = None,
    ) -> None:
        self.marketplace = marketplace
        self.display_name = display_name
        self.credential_fields = credential_fields
        self.limits = limits
        self.settings_type = settings_type
        self.shop_api = shop_api
        self.credential_check = credential_check
        self.order_ids = order_ids
        self.response_window = response_window
        self.response_figures = response_figures
        self.mail_relay = mail_relay
        self.inbound_addresses = inbound_addresses
        self._secret = secret
        if redirect_flow is not None:
            self.connection_kind = "OAUTH_REDIRECT"
            self.redirect_flow = redirect_flow

    def credentials_path(self, tenant_id: str) -> str:
        return f"secret/keybuzz/tenants/{tenant_id}/{self._secret}"

    def __repr__(self) -> str:
        return f"ShopConnector({self.marketplace!r})"


# The marketplace's own figure for the shop's response time over a window [since, until),
# or over the nearest one it measures; None when it measures none close to it.
Figure = Callable[[datetime, datetime], Awaitable[ResponseFigure | None]]


class KitSession(PartsSession):
    """One shop's session: its parts on its one client; ``verify`` checks its credentials
    with one call; ``figure``, where the marketplace has one, its own response figure
    (asked by ``kit/response_parts.py``'s ``SessionFigures``)."""

    def __init__(
        self,
        inbox: SessionInbox,
        replies: ReplyChannel,
        orders: OrderSource,
        *,
        verify: Callable[[], Awaitable[object]],
        figure: Figure | None = None,
    ) -> None:
        super().__init__(inbox, replies, orders)
        self._verify = verify
        self.figure = figure

    async def verify(self) -> None:
        await self._verify()


class AllowanceSession(KitSession):
    """A session on a marketplace that allows a call a number of times a day: the seam's
    ``CountsAllowanceCalls`` and ``LimitsAllowanceCalls``, from the requester's count."""

    def __init__(
        self,
        inbox: SessionInbox,
        replies: ReplyChannel,
        orders: OrderSource,
        *,
        verify: Callable[[], Awaitable[object]],
        calls: Requester,
    ) -> None:
        super().__init__(inbox, replies, orders, verify=verify)
        self.calls = calls

    def allowance_calls(self) -> int:
        return self.calls.allowance_calls()

    def limit_allowance_calls(self, total: int | None) -> None:
        self.calls.limit_allowance_calls(total)


class SharedTokenSession(KitSession):
    """A session whose token (``token``, its client's) every process's session of the
    shop shares: the seam's ``SharesToken``, for a marketplace that limits the tokens an
    application may be granted a day."""

    def __init__(
        self,
        inbox: SessionInbox,
        replies: ReplyChannel,
        orders: OrderSource,
        *,
        verify: Callable[[], Awaitable[object]],
        token: ClientCredentials,
    ) -> None:
        super().__init__(inbox, replies, orders, verify=verify)
        self.token = token

    def share_token(self, store: TokenStore) -> None:
        self.token.share(store)
