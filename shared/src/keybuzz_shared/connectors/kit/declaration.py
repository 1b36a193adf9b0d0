"""A shop-API connector declared and assembled: the connector and its sessions, its
credential check, its settings, its response figures, and the declaration one function
turns into the seam's connector."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, Protocol, TypeAlias, TypeVar, Unpack

import httpx

from keybuzz_shared.connectors.connector_settings import ConnectorSettings, file_origins
from keybuzz_shared.connectors.credential_form import canonical_account
from keybuzz_shared.connectors.kit.auth import ClientCredentials
from keybuzz_shared.connectors.kit.catalogue import instance_of
from keybuzz_shared.connectors.kit.requester import CallErrors, Requester
from keybuzz_shared.connectors.kit.threads import (
    Conversations,
    Discussions,
    ListedThreads,
    ReadInTurn,
    ReadMarks,
)
from keybuzz_shared.connectors.seam import (
    ConnectorDefaults,
    CredentialCheck,
    CredentialField,
    DiscussionShopApi,
    InboundAddresses,
    InboxFile,
    InboxMessage,
    Limits,
    MailRelay,
    MarketplaceMark,
    MarketplaceSession,
    OrderIds,
    OrderSource,
    OrderSummary,
    Page,
    PartsSession,
    Recipient,
    RedirectFlow,
    Reply,
    ReplyChannel,
    ReplyOutcome,
    ResponseFigure,
    ResponseFigures,
    ResponseRule,
    ResponseWindow,
    SenderType,
    SessionInbox,
    ShopApi,
    ShopApiSettings,
    ThreadClosing,
    ThreadKey,
    ThreadsInbox,
    ThreadStanding,
    TokenStore,
    failed_reply,
)
from keybuzz_shared.file_links import NO_FILES, FileLinks
from keybuzz_shared.json_calls import CallOptions, check_options
from keybuzz_shared.settings import (
    AtLeastOne,
    FirstPollDays,
    PartSettings,
    Seconds,
    env_name,
)
from keybuzz_shared.times import as_utc

# --- connector -----------------------------------------------------------------------------
# A shop-API connector from its declaration: what its marketplace is, how a reply's
# discussion is addressed, the settings view its sessions take, and the one function that
# opens a shop's session from its credentials. The seam's ``Connector`` and ``ShopApi``
# members are the kit's; a connector writes its client, its mappings and that function.
#
# A session is the shop's three parts on its one client (``KitSession``); where the
# marketplace counts a call against a daily allowance (``ApiSpec.allowance_call``), the
# session says how many it made and stops at the poller's limit (``KitSession.counting``).

S = TypeVar("S", bound=ShopApiSettings)
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
        thread_closing: ThreadClosing | None = None,
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
        self.thread_closing = thread_closing
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
# Closes a thread on the marketplace (the seam's ``ThreadClosing``, through the session).
Close = Callable[[ThreadKey], Awaitable[None]]

# A marketplace's figure computed over named periods that end when it last computed them
# (the last month, the last three months … since the beginning), declared: the periods,
# shortest first, each with how far back it goes (None: since the beginning), and the one
# call answering every period at once (each period's average seconds, and when the
# marketplace computed them: None, when it was asked). That answer is kept while the
# marketplace allows no other call (one call at a time; a failed one keeps nothing); a
# report's window gets the figure of the shortest period that holds its start, named with
# the period, over that period.
Periods = tuple[tuple[str, timedelta | None], ...]
Computed = tuple[Mapping[str, float], datetime | None]


class KitSession(PartsSession):
    """One shop's session: its parts on its one client; ``verify`` checks its credentials
    with one call; ``figure``, where the marketplace has one, its own response figure
    (asked by ``kit/declaration.py``'s ``SessionFigures``); ``close``, where the
    marketplace lets the seller close a thread (``SessionClosing``). ``counting`` and ``sharing``:
    it on a marketplace that allows a call so many times a day, or a token so many times
    a day. Its ``inbox`` is one of the kit's: ``KitSession.ReadInTurn``,
    ``.ListedThreads`` (its read marks a ``KitSession.ReadMarks``) or ``.Conversations``;
    none, nor replies, where buyers write by mail only (``_ByMail``)."""

    ReadInTurn: TypeAlias = ReadInTurn
    ListedThreads: TypeAlias = ListedThreads
    Conversations: TypeAlias = Conversations
    ReadMarks: TypeAlias = ReadMarks

    class PeriodFigures:
        """A shop's figure ``name`` over ``periods``, every period from one ``fetch`` kept
        ``kept_seconds``; ``slack``: how far a report's window start is moved on (the window
        ends when the report is read, the periods when the call is made, a moment later)."""

        def __init__(
            self,
            name: str,
            periods: Periods,
            fetch: Callable[[], Awaitable[Computed]],
            *,
            kept_seconds: float,
            slack: timedelta = timedelta(0),
            now: Callable[[], datetime] = lambda: datetime.now(UTC),
            monotonic: Callable[[], float] = time.monotonic,
        ) -> None:
            self.name, self.periods = name, periods
            self.slack, self.kept_seconds = slack, kept_seconds
            self._fetch, self._now, self._monotonic = fetch, now, monotonic
            self._one = asyncio.Lock()
            self._kept: tuple[Computed, datetime, float] | None = None  # asked at, runs out at

        async def figure(self, since: datetime, until: datetime) -> ResponseFigure | None:
            """A session's ``figure``: the one for the report's window, its start moved on."""
            return await self.for_window(min(since + self.slack, until), until)

        async def for_window(self, start: datetime, end: datetime) -> ResponseFigure | None:
            """The figure of the shortest period holding ``start`` (None: the answer gives
            none), over that period up to when it was computed; the call's failures raised."""
            (seconds, computed_at), asked_at = await self._answer()
            start = as_utc(min(start, end))
            period = next(
                (name for name, span in self.periods if span is None or asked_at - span <= start),
                self.periods[-1][0],
            )
            if (value := seconds.get(period)) is None:
                return None
            at, span = as_utc(computed_at or asked_at), dict(self.periods)[period]
            return ResponseFigure(
                name=f"{self.name} ({period})",
                average_response_seconds=float(value),
                since=None if span is None else at - span,
                until=at,
                computed_at=at,
            )

        async def _answer(self) -> tuple[Computed, datetime]:
            """The kept answer and our clock when it was asked, asked again once it ran out."""
            async with self._one:
                if self._kept is None or self._kept[2] <= self._monotonic():
                    asked_at = as_utc(self._now())
                    answer = await self._fetch()
                    self._kept = (answer, asked_at, self._monotonic() + self.kept_seconds)
                return self._kept[0], self._kept[1]

    def __init__(
        self,
        inbox: SessionInbox | None = None,
        replies: ReplyChannel | None = None,
        orders: OrderSource | None = None,
        *,
        verify: Callable[[], Awaitable[object]],
        figure: Figure | None = None,
        close: Close | None = None,
    ) -> None:
        super().__init__(inbox or _BY_MAIL, replies or _BY_MAIL, orders or _NoOrders())
        self._verify = verify
        self.figure = figure
        self.close = close

    async def verify(self) -> None:
        await self._verify()

    @property
    def parts(self) -> tuple[SessionInbox, ReplyChannel, OrderSource]:
        return self.inbox, self.replies, self.shop_orders

    def counting(self, calls: Requester) -> KitSession:
        """This session, its ``calls`` counting the marketplace's daily allowance."""
        return _AllowanceSession(self, calls)

    def sharing(self, token: ClientCredentials) -> KitSession:
        """This session, its ``token`` shared by every process's session of the shop."""
        return _SharedTokenSession(self, token)


class _ByMail(ThreadsInbox):
    """The inbox and replies of a marketplace whose buyers write by mail, through its relay
    (its session declares neither; ``seam.messages_by_api`` is False, so nothing polls the
    one nor asks the other)."""

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        return Page(items=(), next_cursor=None)

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return 0

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        return b""

    async def reply(self, reply: Reply) -> ReplyOutcome:
        return failed_reply("replies go by mail only, through the marketplace's relay")

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        return []


_BY_MAIL = _ByMail()  # stateless: one for every session


class _NoOrders:
    """The orders of a marketplace that gives none (its session declares no order source):
    every listing empty."""

    async def orders(self, **_window: Any) -> Page[OrderSummary]:
        return Page(items=(), next_cursor=None)

    orders_created = orders

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return []


class _Wrapped(KitSession):
    """``session``'s parts and options, under a subclass adding one of the seam's
    capabilities (so a new option is carried over once, here)."""

    def __init__(self, session: KitSession) -> None:
        super().__init__(
            *session.parts, verify=session.verify, figure=session.figure, close=session.close
        )


class _AllowanceSession(_Wrapped):
    """A session on a marketplace that allows a call a number of times a day: the seam's
    ``CountsAllowanceCalls`` and ``LimitsAllowanceCalls``, from the requester's count."""

    def __init__(self, session: KitSession, calls: Requester) -> None:
        super().__init__(session)
        self.calls = calls

    def allowance_calls(self) -> int:
        return self.calls.allowance_calls()

    def limit_allowance_calls(self, total: int | None) -> None:
        self.calls.limit_allowance_calls(total)


class _SharedTokenSession(_Wrapped):
    """A session whose token (``token``, its client's) every process's session of the
    shop shares: the seam's ``SharesToken``, for a marketplace that limits the tokens an
    application may be granted a day."""

    def __init__(self, session: KitSession, token: ClientCredentials) -> None:
        super().__init__(session)
        self.token = token

    def share_token(self, store: TokenStore) -> None:
        self.token.share(store)


# --- credential check ----------------------------------------------------------------------
# A shop's credential check, declared: the connector names its settings view, the
# function that opens a shop's client (``ClientOf``, its sessions' too) and one probe (a
# call as the shop, with the check's short deadline and few attempts) that answers the
# shop's identity; the probe compares the accounts the marketplace's answer names with
# the one the seller typed (``own_account``).
#
# A connector whose API has instances given as data (a catalogue) names its platform
# (``instance``): its probe then answers the shop's id alone, and the identity is made here,
# ``<platform>@<instance>:<shop id>`` with the instance its base URL's host
# (``catalogue.instance_of``), so that no catalogue entry's name or spelling of an address
# makes one shop two.

C = TypeVar("C")


# A shop's client on the connector's settings view, its files from the file links, its
# calls on the call options; ValueError when a credential field is missing. The one a
# session and the credential check both open.
ClientOf = Callable[[Mapping[str, str], httpx.AsyncClient, S, FileLinks, CallOptions], C]


# The shop's client and credentials → the shop's identity, from one call as the shop;
# CredentialsRefused when the marketplace refuses them.
Probe = Callable[[C, Mapping[str, str]], Awaitable[str]]


def shop_options(api: ShopApiSettings) -> CallOptions:
    """A session's CallOptions: each call within the shop's call deadline."""
    return CallOptions(call_deadline=api.call_deadline_seconds)


class ProbeCheck(Generic[S, C]):
    """The seam's ``CredentialCheck`` of a connector: its settings view (``view``, a
    TypeError naming ``marketplace`` for another), its ``client`` opened with a check's
    options (``check_options``: a short deadline, two attempts), then its ``probe``, whose
    answer is the shop's identity."""

    def __init__(
        self, view: type[S], marketplace: str, client: ClientOf[S, C], probe: Probe[C]
    ) -> None:
        self._view = view
        self._marketplace = marketplace
        self._client = client
        self._probe = probe

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, settings: ShopApiSettings
    ) -> str:
        api = settings_view(settings, self._view, self._marketplace)
        options = check_options(api.call_deadline_seconds)
        answered = await self._probe(
            self._client(credentials, http, api, NO_FILES, options), credentials
        )
        return self._identity(api, answered)

    def _identity(self, api: S, answered: str) -> str:
        return answered


class InstanceProbeCheck(ProbeCheck[S, C]):
    """A ``ProbeCheck`` of a platform whose instances are data (``instance``: its name):
    the probe answers the shop's id, and the identity is its instance's (the seam's
    ``InstanceIdentity``)."""

    def __init__(
        self,
        view: type[S],
        marketplace: str,
        client: ClientOf[S, C],
        probe: Probe[C],
        *,
        instance: str,
    ) -> None:
        super().__init__(view, marketplace, client, probe)
        self.instance = instance

    def _identity(self, api: S, answered: str) -> str:
        return self.identity_on(api, answered)

    def identity_on(self, settings: ShopApiSettings, account: str) -> str:
        """The identity of shop ``account`` on the instance ``settings`` name:
        ``"<platform>@<instance's host>:<shop id>"``."""
        return f"{self.instance}@{instance_of(settings.api_url)}:{account}"


def own_account(
    fields: Sequence[CredentialField],
    typed: str,
    named: Iterable[str | int],
    errors: CallErrors,
    *,
    refusal: str = "these credentials are not seller {account}'s",
) -> str:
    """The typed account in its canonical form, when every account the marketplace's answer
    names (``named``: as it writes them) is that one (an answer naming none: the typed
    one); ``errors.credentials_refused`` with ``refusal`` (``{account}``: the typed one)
    otherwise."""
    own = canonical_account(fields, typed)
    if {canonical_account(fields, str(n)) for n in named} - {own}:
        raise errors.credentials_refused(refusal.format(account=own))
    return own


# --- sessions ------------------------------------------------------------------------------
# A shop's session opened from the connector's declaration: the function that opens the
# shop's client (``ClientOf``, the credential check's too) and the one that puts the shop's
# parts on it (``Parts``). The kit opens the client with a session's call options
# (``shop_options``) and hands it, with the settings view, to the parts: a connector writes
# no ``open_session`` of its own. Its client it writes on one ``Opening`` (``_client_of``):
# the shop's credential fields, the HTTP client, the settings view, and what its requester
# takes unread (the shop's file links and the call options).


# The shop's parts (inbox, replies, orders) on its client, given the settings view.
Parts = Callable[[C, S], MarketplaceSession]


@dataclass(frozen=True)
class Opening(Generic[S]):
    """What a shop's client is opened on: ``credentials`` (the connector's credential
    fields), ``http``, ``api`` (the settings view) and ``options``, the requester's."""

    credentials: Mapping[str, str]
    http: httpx.AsyncClient
    api: S
    options: Requester.Options


def _requester(**options: Unpack[Requester.Options]) -> Requester.Options:
    return options


def _client_of(build: Callable[[Opening[S]], C]) -> ClientOf[S, C]:
    """The ``ClientOf`` of a connector's ``build``: the file links and call options the
    kit gives are its requester's options."""

    def client_of(
        credentials: Mapping[str, str],
        http: httpx.AsyncClient,
        api: S,
        files: FileLinks,
        options: CallOptions,
    ) -> C:
        return build(Opening(credentials, http, api, _requester(files=files, **options)))

    return client_of


def opener(client: ClientOf[S, C], parts: Parts[C, S]) -> OpenSession[S]:
    """The ``OpenSession`` of a connector: its client, then its parts on it."""

    def open_session(
        credentials: Mapping[str, str], http: httpx.AsyncClient, api: S, files: FileLinks
    ) -> MarketplaceSession:
        return parts(client(credentials, http, api, files, shop_options(api)), api)

    return open_session


# --- response parts ------------------------------------------------------------------------
# A shop-API connector's response parts, declared: its response rule (``OwnRule``) and
# the marketplace's own figure for a shop's response time, read on the shop's session (the
# ``KitSession``'s ``figure``, asked there by ``SessionFigures``), so that the figure's calls
# go through the shop's one client and count against its limits with every other call.


@dataclass(frozen=True)
class OwnRule:
    """The seam's ``ResponseWindow`` of a marketplace whose ``rule`` is its own and whose
    "no response needed" an agent cannot mark through its API: ``note`` says so."""

    rule: ResponseRule
    note: str

    @classmethod
    def hours(cls, hours: float, note: str, *, clock: str = "calendar") -> OwnRule:
        """The marketplace's ``hours`` to answer, run on its own clock of each thread (since
        when it says the thread waits for the shop), a tenant free to set a shorter goal;
        ``clock``: the hours that count (``ResponseRule.clock``)."""
        window = timedelta(hours=hours)
        rule = ResponseRule(
            window=window, clock=clock, marketplace_clock=True, tenant_may_shorten=True
        )
        return cls(rule, note)

    def mark(self, order_id: str | None, country: str | None) -> MarketplaceMark:
        return MarketplaceMark(synced=False, note=self.note, url=None)


@dataclass(frozen=True)
class SessionFigures:
    """The seam's ``ResponseFigures`` of a connector whose sessions carry the shop's
    ``figure``; ``cache_seconds``: how long a figure holds; ``label``: the marketplace, as
    a session without one is refused (TypeError)."""

    cache_seconds: float
    label: str

    async def response_delay(
        self, session: MarketplaceSession, *, since: datetime, until: datetime
    ) -> ResponseFigure | None:
        if not isinstance(session, KitSession) or session.figure is None:
            raise TypeError(f"not a {self.label} shop's session")
        return await session.figure(since, until)


@dataclass(frozen=True)
class SessionClosing:
    """The seam's ``ThreadClosing`` of a connector whose sessions carry ``close``;
    ``label``: the marketplace, as a session without one is refused (TypeError)."""

    label: str

    async def close_thread(self, session: MarketplaceSession, thread: ThreadKey) -> None:
        if not isinstance(session, KitSession) or session.close is None:
            raise TypeError(f"not a {self.label} shop's session")
        await session.close(thread)


# --- shop settings -------------------------------------------------------------------------
# The settings every shop API has are declared here, once (``ShopCallSettings``): a
# connector's settings name their ``PREFIX`` and each is read from ``<PREFIX>_<NAME>``
# (``<PREFIX>_CALL_DEADLINE_SECONDS``), a connector redeclaring one only for its own
# default or bounds, and leaving out of its environment (``NOT_FROM_ENVIRONMENT``) those its
# marketplace lacks. They are read as fields (``settings.timeout_seconds``) and make the
# view a session is given (``view``). ``ShopSettings`` adds the marketplace, its API's
# address (``api_url``), the origins its shops' files may come from and the check of every
# address at load: each setting ending in ``_url`` is an address, checked under its
# variable's name.

# The settings of every shop API (``ShopApiSettings``'s names, but its attachment origins).
_EACH_API_HAS = (
    "timeout_seconds",
    "call_deadline_seconds",
    "poll_interval_seconds",
    "mark_as_read",
    "first_poll_days",
    "max_attachment_bytes",
    "attachment_origins",
)


class ShopCallSettings(ConnectorSettings, kw_only=True, frozen=True):
    """A shop API's settings, each from ``<PREFIX>_<NAME>``."""

    PREFIX: ClassVar[str] = ""

    timeout_seconds: Seconds = 30.0  # each connect or read
    call_deadline_seconds: Seconds = 20.0  # a call as a whole, its retries included
    poll_interval_seconds: AtLeastOne = 60  # each shop polled once per interval at most
    # After a message is stored, mark it read at the marketplace.
    mark_as_read: bool = True
    first_poll_days: FirstPollDays = 14  # how far back a shop's first poll reads
    # Each file a buyer's message carries is downloaded up to this size (larger: named only).
    max_attachment_bytes: AtLeastOne = 10 * 1024 * 1024
    # The only origins (scheme://host[:port], separated by commas) a message's files are
    # fetched from; empty: the API's own, where it serves files (``ShopSettings``).
    attachment_origins: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        prefixed = {name: f"{cls.PREFIX}_{name}".upper() for name in (*_EACH_API_HAS, "api_url")}
        cls.ENV_NAMES = prefixed | cls.__dict__.get("ENV_NAMES", {})

    def view(self, kind: type[S], **given: Any) -> S:
        """The view ``kind`` a session is given: these settings, and what only the
        connector knows (``given``: its API's address, its files' origins, its own)."""
        each = {
            "timeout_seconds": self.timeout_seconds,
            "call_deadline_seconds": self.call_deadline_seconds,
            "poll_interval_seconds": self.poll_interval_seconds,
            "mark_as_read": self.mark_as_read,
            "first_poll_days": self.first_poll_days,
            "max_attachment_bytes": self.max_attachment_bytes,
        }
        return kind(**(each | given))


class ShopSettings(ShopCallSettings, kw_only=True, frozen=True):
    """``MARKETPLACE``'s settings; ``VIEW``: the settings view its session and credential
    check take (``view_fields``: what the view has beyond the settings every API has);
    ``API_SERVES_FILES``: its files come from its API's origin unless
    ``<PREFIX>_ATTACHMENT_ORIGINS`` says otherwise (``file_hosts`` where they come from
    more hosts)."""

    MARKETPLACE: ClassVar[str]
    VIEW: ClassVar[type[ShopApiSettings]] = ShopApiSettings
    API_SERVES_FILES: ClassVar[bool] = False

    api_url: str

    def view_fields(self) -> dict[str, Any]:
        return {}

    def shop_api(self, marketplace: str) -> ShopApiSettings | None:
        if marketplace != self.MARKETPLACE:
            return None
        given = {"api_url": self.api_url, "attachment_origins": self.file_origins}
        return self.view(self.VIEW, **(given | self.view_fields()))

    @property
    def file_hosts(self) -> tuple[str, ...]:
        """The addresses whose origins serve its shops' files (none unless declared)."""
        return (self.api_url,) if self.API_SERVES_FILES else ()

    @property
    def addresses(self) -> list[tuple[str, str]]:
        """Each address setting: its variable's name and its value."""
        fields = type(self).__struct_fields__
        return [(env_name(type(self), f), getattr(self, f)) for f in fields if f.endswith("_url")]

    @property
    def file_origins(self) -> tuple[str, ...]:
        return file_origins(self.attachment_origins, self.file_hosts)

    def __post_init__(self) -> None:
        origins = env_name(type(self), "attachment_origins")
        self.check_addresses([*self.addresses, *((origins, o) for o in self.file_origins)])


# --- declaration ---------------------------------------------------------------------------
# A shop-API connector family is one frozen ``Declaration``; ``shop_api_connector`` is the
# one function that turns it into the seam's connector.


@dataclass(frozen=True)
class _Declaration(Generic[S, C]):
    """A connector family's one declaration, all ``shop_api_connector`` turns into the
    seam's connector. What a seller is shown: its ``marketplace`` value, ``display_name``,
    the name of a shop's ``secret`` under its tenant in Vault, the ``credential_fields``
    the seller types and the marketplace's ``limits``. How a shop's calls are made: its
    settings ``view``, ``client`` (the shop's client on one ``Opening``), ``parts`` (its
    inbox, replies and orders on that client) and ``probe`` (one call as the shop,
    answering its identity; None for a seller who consents); ``label``, the marketplace as
    a wrong view's TypeError names it (its display name unless given); ``instance``, the
    platform, when its API's instances are data (``InstanceProbeCheck``). Then its
    ``settings``, ``discussions`` (whom a reply goes to, its gate, what a reply carries)
    and ``order_ids``. A part its marketplace lacks is absent (None): ``response_window``
    (its own rule), ``figures_kept_seconds`` (its sessions carry the marketplace's own
    response figure, ``KitSession.figure``, which holds so long), ``mail_relay`` and
    ``inbound_addresses`` (buyers' mails through its relay, its shop API then serving
    orders and the credential check only), ``redirect_flow`` (a seller who consents on the
    marketplace's site rather than typing credentials: no probe); ``closes_threads``: its
    sessions close a thread (``KitSession.close``, the seam's ``ThreadClosing``)."""

    marketplace: str
    display_name: str
    secret: str
    credential_fields: tuple[CredentialField, ...]
    limits: Limits
    view: type[S]
    client: Callable[[Opening[S]], C]
    parts: Parts[C, S]
    probe: Probe[C] | None
    settings: type[PartSettings]
    discussions: Discussions
    order_ids: OrderIds
    label: str = ""
    instance: str | None = None
    response_window: ResponseWindow | None = None
    figures_kept_seconds: float | None = None
    mail_relay: MailRelay | None = None
    inbound_addresses: InboundAddresses | None = None
    redirect_flow: RedirectFlow | None = None
    closes_threads: bool = False

    @property
    def named(self) -> str:
        return self.label or self.display_name


class Declaration(_Declaration[S, C]):
    """A connector family's one declaration (its fields: ``_Declaration``'s). Its parts'
    types are reached through it: its client's ``Declaration.Opening``, its
    ``Declaration.Discussions``, its ``response_window`` a ``Declaration.OwnRule``."""

    Opening: TypeAlias = Opening
    Discussions: TypeAlias = Discussions
    OwnRule: TypeAlias = OwnRule


def _credential_check(
    declared: Declaration[S, C], client: ClientOf[S, C]
) -> CredentialCheck | None:
    """The check of typed credentials by the declared probe (none without one)."""
    if declared.probe is None:
        return None
    view, label, probe = declared.view, declared.named, declared.probe
    if declared.instance is None:
        return ProbeCheck(view, label, client, probe)
    return InstanceProbeCheck(view, label, client, probe, instance=declared.instance)


def _figures(declared: Declaration[S, C]) -> ResponseFigures | None:
    """The response figures its sessions carry, where it declares how long one holds."""
    kept = declared.figures_kept_seconds
    return None if kept is None else SessionFigures(kept, declared.named)


def shop_api_connector(declared: Declaration[S, C]) -> ShopConnector:
    """The seam's connector of ``declared``: its shop API (a ``ReplyGate`` where its
    discussions declare a gate) and its credential check both open its one client."""
    client = _client_of(declared.client)
    limits, open_session = declared.limits, opener(client, declared.parts)
    return ShopConnector(
        marketplace=declared.marketplace,
        display_name=declared.display_name,
        secret=declared.secret,
        credential_fields=declared.credential_fields,
        limits=limits,
        settings_type=declared.settings,
        shop_api=kit_shop_api(
            limits, declared.discussions, declared.view, open_session, marketplace=declared.named
        ),
        credential_check=_credential_check(declared, client),
        order_ids=declared.order_ids,
        response_window=declared.response_window,
        response_figures=_figures(declared),
        thread_closing=SessionClosing(declared.named) if declared.closes_threads else None,
        mail_relay=declared.mail_relay,
        inbound_addresses=declared.inbound_addresses,
        redirect_flow=declared.redirect_flow,
    )
