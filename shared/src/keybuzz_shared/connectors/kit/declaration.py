"""A shop-API connector declared and assembled: the connector and its sessions, its
credential check, its settings, its response figures, and the declaration one function
turns into the seam's connector."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar, cast

import httpx
import msgspec

from keybuzz_shared.connectors.connector_settings import ConnectorSettings, file_origins
from keybuzz_shared.connectors.credential_form import canonical_account
from keybuzz_shared.connectors.kit.auth import CallErrors, ClientCredentials, require_fields
from keybuzz_shared.connectors.kit.catalogue import instance_of
from keybuzz_shared.connectors.kit.requester import Requester
from keybuzz_shared.connectors.kit.threads import (
    Discussions,
    ListedThreads,
    ReadInTurn,
    ReadMarks,
    Unmarked,
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

S = TypeVar("S", bound=ShopApiSettings)
C = TypeVar("C")


class KitShopApi(DiscussionShopApi, Generic[S, C]):
    """The seam's ``ShopApi`` of a declaration: a shop's session its ``parts`` on its
    ``client``, whose replies go in a discussion."""

    def __init__(self, declared: Declaration[S, C]) -> None:
        discussions = declared.discussions
        super().__init__(
            declared.limits,
            discussion_recipients=discussions.recipients,
            support_sender=discussions.support_sender,
            claim_subject=discussions.claim_subject,
        )
        self._declared = declared
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
        declared = self._declared
        api = declared.view_of(settings)
        client = declared.opened(credentials, http, api, files, shop_options(api))
        session, probe = declared.parts(client, api), declared.probe
        if isinstance(session, KitSession) and session.check is None and probe is not None:
            session.check = lambda: probe(client, credentials)  # its verify: the probe's call
        return session


class GatedShopApi(KitShopApi[S, C]):
    """A ``KitShopApi`` whose discussions declare a ``gate``: the seam's ``ReplyGate`` (the
    poller asks by type)."""

    def reply_refusal(self, reply: Reply, standing: ThreadStanding, now: datetime) -> str | None:
        gate = self._discussions.gate
        return gate(reply, standing, now) if gate is not None else None


@dataclass(kw_only=True, eq=False, repr=False)  # a connector is itself, whatever its parts
class ShopConnector(ConnectorDefaults):
    """The seam's ``Connector`` of a marketplace polled shop by shop over its API; a shop's
    credentials kept under ``secret`` under its tenant in Vault."""

    marketplace: str
    display_name: str
    secret: str
    credential_fields: tuple[CredentialField, ...]
    limits: Limits
    settings_type: type[PartSettings]
    shop_api: ShopApi
    credential_check: CredentialCheck | None
    order_ids: OrderIds
    response_window: ResponseWindow | None = None
    response_figures: ResponseFigures | None = None
    thread_closing: ThreadClosing | None = None
    mail_relay: MailRelay | None = None
    inbound_addresses: InboundAddresses | None = None
    redirect_flow: RedirectFlow | None = None

    def __post_init__(self) -> None:
        if self.redirect_flow is not None:
            self.connection_kind = "OAUTH_REDIRECT"

    def credentials_path(self, tenant_id: str) -> str:
        return f"secret/keybuzz/tenants/{tenant_id}/{self.secret}"

    def __repr__(self) -> str:
        return f"ShopConnector({self.marketplace!r})"


# The marketplace's own response figure over [since, until) (None: it measures none near).
Figure = Callable[[datetime, datetime], Awaitable[ResponseFigure | None]]
Close = Callable[[ThreadKey], Awaitable[None]]  # the seam's ``ThreadClosing``, on the session

# Named periods, shortest first, each with how far back it goes (None: since the beginning);
# one call answers them all: each period's average seconds, and when they were computed.
Periods = tuple[tuple[str, timedelta | None], ...]
Computed = tuple[Mapping[str, float], datetime | None]


class KitSession(PartsSession):
    """One shop's parts on its one client; ``verify``: one call checking its credentials
    (its declaration's ``probe`` unless given); ``figure`` and ``close`` where the marketplace
    has them (``SessionParts`` asks them here, so their calls count with every other)."""

    ReadInTurn: TypeAlias = ReadInTurn
    ListedThreads: TypeAlias = ListedThreads
    ReadMarks: TypeAlias = ReadMarks

    @dataclass
    class PeriodFigures:
        """One ``fetch`` kept ``kept_seconds`` (the marketplace allows no other call
        meanwhile); ``slack``: a report's window start moved on, as its periods end when
        the call is made, a moment after the report's window."""

        name: str
        periods: Periods
        fetch: Callable[[], Awaitable[Computed]]
        _: KW_ONLY
        kept_seconds: float
        slack: timedelta = timedelta(0)
        now: Callable[[], datetime] = lambda: datetime.now(UTC)
        monotonic: Callable[[], float] = time.monotonic
        _one: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
        _kept: tuple[Computed, datetime, float] | None = field(default=None, init=False)

        async def figure(self, since: datetime, until: datetime) -> ResponseFigure | None:
            return await self.for_window(min(since + self.slack, until), until)

        async def for_window(self, start: datetime, end: datetime) -> ResponseFigure | None:
            """The figure of the shortest period holding ``start`` (None: the answer has none)."""
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
            async with self._one:
                if self._kept is None or self._kept[2] <= self.monotonic():  # runs out at
                    asked_at = as_utc(self.now())
                    answer = await self.fetch()
                    self._kept = (answer, asked_at, self.monotonic() + self.kept_seconds)
                return self._kept[0], self._kept[1]

    def __init__(
        self,
        inbox: SessionInbox | None = None,
        replies: ReplyChannel | None = None,
        orders: OrderSource | None = None,
        *,
        verify: Callable[[], Awaitable[object]] | None = None,
        figure: Figure | None = None,
        close: Close | None = None,
    ) -> None:
        super().__init__(inbox or _BY_MAIL, replies or _BY_MAIL, orders or _NoOrders())
        self.check = verify
        self.figure = figure
        self.close = close

    async def verify(self) -> None:
        if self.check is None:
            raise TypeError("a session made outside a declaration is given its verify")
        await self.check()

    @property
    def parts(self) -> tuple[SessionInbox, ReplyChannel, OrderSource]:
        return self.inbox, self.replies, self.shop_orders

    def counting(self, calls: Requester) -> KitSession:
        """This session, its ``calls`` counting the marketplace's daily allowance."""
        return _AllowanceSession(self, calls)

    def sharing(self, token: ClientCredentials) -> KitSession:
        """This session, its ``token`` shared by every process's session of the shop."""
        return _SharedTokenSession(self, token)


class _ByMail(Unmarked, ThreadsInbox):
    """Where buyers write by mail (``seam.messages_by_api`` False: never polled nor asked)."""

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        return Page(items=(), next_cursor=None)

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        return b""

    async def reply(self, reply: Reply) -> ReplyOutcome:
        return failed_reply("replies go by mail only, through the marketplace's relay")

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        return []


_BY_MAIL = _ByMail()  # stateless: one for every session


class _NoOrders:
    async def orders(self, **_window: Any) -> Page[OrderSummary]:
        return Page(items=(), next_cursor=None)

    orders_created = orders

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return []


class _Wrapped(KitSession):
    """``session`` under a subclass adding a seam capability (its options carried once, here)."""

    def __init__(self, session: KitSession) -> None:
        super().__init__(
            *session.parts, verify=session.check, figure=session.figure, close=session.close
        )


class _AllowanceSession(_Wrapped):
    """The seam's ``CountsAllowanceCalls`` and ``LimitsAllowanceCalls``, the requester's."""

    def __init__(self, session: KitSession, calls: Requester) -> None:
        super().__init__(session)
        self.calls = calls

    def allowance_calls(self) -> int:
        return self.calls.allowance_calls()

    def limit_allowance_calls(self, total: int | None) -> None:
        self.calls.limit_allowance_calls(total)


class _SharedTokenSession(_Wrapped):
    """The seam's ``SharesToken``: where tokens granted a day are limited."""

    def __init__(self, session: KitSession, token: ClientCredentials) -> None:
        super().__init__(session)
        self.token = token

    def share_token(self, store: TokenStore) -> None:
        self.token.share(store)


def shop_options(api: ShopApiSettings) -> CallOptions:
    """Each call within the shop's call deadline, its tries at most its retry wait apart."""
    return CallOptions(
        call_deadline=api.call_deadline_seconds, max_backoff=api.call_retry_wait_seconds
    )


# The shop's identity from one call as the shop; CredentialsRefused when refused.
Probe = Callable[[C, Mapping[str, str]], Awaitable[str]]


@dataclass(frozen=True)
class ProbeCheck(Generic[S, C]):
    """The seam's ``CredentialCheck``: the declaration's client opened with a check's short
    deadline and few attempts, then ``probe``, whose answer is the shop's identity."""

    declared: Declaration[S, C]
    probe: Probe[C]

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, settings: ShopApiSettings
    ) -> str:
        declared = self.declared
        api = declared.view_of(settings)
        options = check_options(api.call_deadline_seconds)
        client = declared.opened(credentials, http, api, NO_FILES, options)
        return self._identity(api, await self.probe(client, credentials))

    def _identity(self, settings: ShopApiSettings, account: str) -> str:
        return account


class InstanceProbeCheck(ProbeCheck[S, C]):
    """A platform whose instances are data (the declaration's ``instance``): the probe
    answers the shop's id, the identity is made here from the base URL's host, so that no
    entry's name or spelling of an address makes one shop two (the seam's
    ``InstanceIdentity``)."""

    def identity_on(self, settings: ShopApiSettings, account: str) -> str:
        """``"<platform>@<instance's host>:<shop id>"``."""
        return f"{self.declared.instance}@{instance_of(settings.api_url)}:{account}"

    _identity = identity_on


def own_account(
    fields: Sequence[CredentialField],
    typed: str,
    named: Iterable[str | int],
    errors: CallErrors,
    *,
    refusal: str = "these credentials are not seller {account}'s",
) -> str:
    """The typed account, canonical, when every account the answer ``named`` is it (or none);
    else ``errors.credentials_refused`` with ``refusal``."""
    own = canonical_account(fields, typed)
    if {canonical_account(fields, str(n)) for n in named} - {own}:
        raise errors.credentials_refused(refusal.format(account=own))
    return own


@dataclass(frozen=True)
class Opening(Generic[S]):
    """What a shop's client is opened on; ``options``: its requester's, passed on unread."""

    credentials: Mapping[str, str]
    http: httpx.AsyncClient
    api: S
    options: Requester.Options


@dataclass(frozen=True)
class OwnRule:
    """The seam's ``ResponseWindow`` of a marketplace whose ``rule`` is its own and whose
    "no response needed" an agent cannot mark through its API: ``note`` says so."""

    rule: ResponseRule
    note: str

    @classmethod
    def hours(cls, hours: float, note: str, *, clock: str = "calendar") -> OwnRule:
        """``hours`` on the marketplace's own clock of each thread, a tenant free to shorten."""
        window = timedelta(hours=hours)
        rule = ResponseRule(
            window=window, clock=clock, marketplace_clock=True, tenant_may_shorten=True
        )
        return cls(rule, note)

    def mark(self, order_id: str | None, country: str | None) -> MarketplaceMark:
        return MarketplaceMark(synced=False, note=self.note, url=None)


@dataclass(frozen=True)
class SessionParts:
    """The seam's ``ResponseFigures`` and ``ThreadClosing``, each asked of the session's
    ``figure`` and ``close`` (TypeError for a session without it)."""

    label: str
    cache_seconds: float = 0.0

    async def response_delay(
        self, session: MarketplaceSession, *, since: datetime, until: datetime
    ) -> ResponseFigure | None:
        figure: Figure = self._part(session, "figure")
        return await figure(since, until)

    async def close_thread(self, session: MarketplaceSession, thread: ThreadKey) -> None:
        close: Close = self._part(session, "close")
        await close(thread)

    def _part(self, session: MarketplaceSession, name: str) -> Any:
        part = getattr(session, name) if isinstance(session, KitSession) else None
        if part is None:
            raise TypeError(f"not a {self.label} shop's session")
        return part


# --- shop settings -------------------------------------------------------------------------
# Every shop API's settings, declared once; a connector redeclares one only for its own
# default or bounds. Each setting ending in ``_url`` is an address, checked at load.

# The settings of every shop API (``ShopApiSettings``'s names, but its attachment origins).
_EACH_API_HAS = tuple(
    "timeout_seconds call_deadline_seconds call_retry_wait_seconds poll_interval_seconds"
    " mark_as_read first_poll_days max_attachment_bytes attachment_origins".split()
)


class ShopCallSettings(ConnectorSettings, kw_only=True, frozen=True):
    """A shop API's settings, each from ``<PREFIX>_<NAME>`` (its ``MARKETPLACE`` unless given)."""

    PREFIX: ClassVar[str] = ""
    # False where the marketplace keeps no read mark a seller sets: its messages are never
    # marked read, and no ``<PREFIX>_MARK_AS_READ`` is read.
    MARKS_READ: ClassVar[bool] = True

    timeout_seconds: Seconds = 30.0  # each connect or read
    call_deadline_seconds: Seconds = 20.0  # a call as a whole, its retries included
    # The longest wait between two tries of a failing call (each wait doubling from 0.5 s).
    call_retry_wait_seconds: Seconds = 20.0
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
        if not cls.PREFIX:
            cls.PREFIX = getattr(cls, "MARKETPLACE", "").lower()
        prefixed = {name: f"{cls.PREFIX}_{name}".upper() for name in (*_EACH_API_HAS, "api_url")}
        cls.ENV_NAMES = prefixed | cls.__dict__.get("ENV_NAMES", {})
        if not cls.MARKS_READ:
            cls.NOT_FROM_ENVIRONMENT = cls.NOT_FROM_ENVIRONMENT | {"mark_as_read"}

    def __post_init__(self) -> None:
        if not self.MARKS_READ:
            msgspec.structs.force_setattr(self, "mark_as_read", False)

    def view(self, kind: type[S], **given: Any) -> S:
        """The view a session is given; ``given``: what only the connector knows."""
        each = {name: getattr(self, name) for name in _EACH_API_HAS[:-1]}  # origins: given
        return kind(**(each | given))


class ShopSettings(ShopCallSettings, kw_only=True, frozen=True):
    """``VIEW``: the view its session and check take (``view_fields``: its own in it);
    ``API_SERVES_FILES``: files from the API's origin unless its attachment origins say
    otherwise."""

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
        return (self.api_url,) if self.API_SERVES_FILES else ()

    @property
    def file_origins(self) -> tuple[str, ...]:
        return file_origins(self.attachment_origins, self.file_hosts)

    def __post_init__(self) -> None:
        super().__post_init__()
        kind = type(self)
        urls = [f for f in kind.__struct_fields__ if f.endswith("_url")]  # each an address
        origins = ((env_name(kind, "attachment_origins"), o) for o in self.file_origins)
        self.check_addresses([*((env_name(kind, f), getattr(self, f)) for f in urls), *origins])


@dataclass(frozen=True)
class _Declaration(Generic[S, C]):
    """A connector family's one declaration, its fields: docs/ARCHITECTURE.md, "Adding a
    marketplace"; ``label``: the marketplace in errors (its display name unless given)."""

    marketplace: str
    display_name: str
    credential_fields: tuple[CredentialField, ...]
    limits: Limits
    client: Callable[[Opening[S]], C]
    parts: Callable[[C, S], MarketplaceSession]
    probe: Probe[C] | None
    settings: type[PartSettings]
    discussions: Discussions
    order_ids: OrderIds
    secret: str = ""
    view: type[S] | None = None
    label: str = ""
    instance: str | None = None
    response_window: ResponseWindow | None = None
    figures_kept_seconds: float | None = None
    mail_relay: MailRelay | None = None
    inbound_addresses: InboundAddresses | None = None
    redirect_flow: RedirectFlow | None = None
    closes_threads: bool = False

    def __post_init__(self) -> None:
        if not self.secret:
            object.__setattr__(self, "secret", f"{self.marketplace.lower()}_api")
        if not self.label:
            object.__setattr__(self, "label", self.display_name)

    def view_of(self, settings: ShopApiSettings) -> S:
        """``settings`` as the connector's ``shop_api`` made them; TypeError for another view."""
        view = cast(type[S], self.view or getattr(self.settings, "VIEW", ShopApiSettings))
        if not isinstance(settings, view):
            raise TypeError(
                f"a {self.label} session needs the shop API view {view.__name__}, "
                f"not {type(settings).__name__}"
            )
        return settings

    def opened(
        self,
        credentials: Mapping[str, str],
        http: httpx.AsyncClient,
        api: S,
        files: FileLinks | None,
        options: CallOptions,
    ) -> C:
        """A shop's client; ValueError naming the credential fields missing (never a value)."""
        require_fields(self.credential_fields, credentials, self.label)
        given = cast(Requester.Options, {"files": files or NO_FILES, **options})
        return self.client(Opening(credentials, http, api, given))


class Declaration(_Declaration[S, C]):
    """Its parts' types reached through it (aliases cannot be dataclass fields)."""

    Opening: TypeAlias = Opening
    Discussions: TypeAlias = Discussions
    OwnRule: TypeAlias = OwnRule


def shop_api_connector(declared: Declaration[S, C]) -> ShopConnector:
    """The seam's connector of ``declared``: what both name alike as declared, its sessions
    and check opening one client."""
    kept = declared.figures_kept_seconds
    asked = SessionParts(declared.label, kept or 0.0)  # the figure and closing the shop has
    shop_api = KitShopApi if declared.discussions.gate is None else GatedShopApi
    probe, check = declared.probe, ProbeCheck if declared.instance is None else InstanceProbeCheck
    alike = {f.name for f in fields(ShopConnector)} & {f.name for f in fields(declared)}
    return ShopConnector(
        **{name: getattr(declared, name) for name in alike},
        settings_type=declared.settings,
        shop_api=shop_api(declared),
        credential_check=None if probe is None else check(declared, probe),
        response_figures=None if kept is None else asked,
        thread_closing=asked if declared.closes_threads else None,
    )
