"""A shop-API connector declared and assembled: the catalogue of instances, the connector and its sessions, its credential check, its settings, its response figures, and the declaration one function turns into the seam's connector."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import Any, ClassVar, Generic, Protocol, TypeVar, Unpack

import httpx
import msgspec

from keybuzz_shared.connectors.connector_settings import ConnectorSettings, file_origins
from keybuzz_shared.connectors.credential_form import canonical_account
from keybuzz_shared.connectors.kit.auth import ClientCredentials
from keybuzz_shared.connectors.kit.requester import CallErrors, Requester, RequesterOptions
from keybuzz_shared.connectors.seam import (
    ConnectorDefaults,
    CredentialCheck,
    CredentialField,
    DiscussionShopApi,
    InboundAddresses,
    Limits,
    MailRelay,
    MarketplaceMark,
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
    ResponseRule,
    ResponseWindow,
    SenderType,
    SessionInbox,
    ShopApi,
    ShopApiSettings,
    ThreadKey,
    ThreadStanding,
    TokenStore,
)
from keybuzz_shared.file_links import NO_FILES, FileLinks, origin_of, production_problem
from keybuzz_shared.json_calls import CallOptions, check_options
from keybuzz_shared.settings import (
    PRODUCTION_LIKE,
    AtLeastOne,
    FirstPollDays,
    PartSettings,
    Seconds,
    env_name,
)

# --- catalogue -----------------------------------------------------------------------------
# A connector that serves many instances of one API (one platform's operators), each one a
# marketplace of its own, from a catalogue: data, not code.
#
# The packaged document (a JSON list, one entry per instance) lists those known at release;
# two variables override and extend it, entries replacing the packaged ones by ``code``: an
# inline JSON list (how the dev stack points the seeded instances at the sandbox's double)
# and a file read at every call (how an instance is added to running services without a
# release). Both are read from the process environment when asked (``entries()``), before
# any service settings exist.
#
# A file that is missing or invalid leaves the last good reading of it in force, with one
# log line per new problem: a typo in the file never takes an instance offline. An entry's
# address is refused where it holds credentials or is not http(s), and, production-like, one
# not https or inside our network (loopback, link-local, private) in any spelling of the
# address (``127.1``, ``2130706433``, ``0x7f000001``, ``[::ffff:7f00:1]``, ``localhost.``…).
# A name is judged by what it resolves to when it is called: the clients of the services
# that call an instance connect only to the public addresses they checked
# (``keybuzz_shared.addresses``, docs/SECURITY.md).

log = logging.getLogger(__name__)

# A catalogue lists a few dozen instances in a few kilobytes: a file larger than this is a
# mistake or an attack, refused without being read whole.
MAX_CATALOGUE_BYTES = 1024 * 1024


class Entry(Protocol):
    """One instance of the catalogue: its marketplace value and its API's base URL."""

    @property
    def code(self) -> str: ...

    @property
    def base_url(self) -> str: ...


E = TypeVar("E", bound=Entry)
T = TypeVar("T")


class CatalogueError(ValueError):
    """A catalogue that cannot be read (not JSON, an entry off its shape, a code twice)."""


def check_base_url(code: str, base_url: str) -> None:
    """ValueError when an entry's base URL is not http(s) or holds credentials (shown
    without them: the entry is refused for holding them)."""
    try:
        origin_of(base_url)
    except ValueError:
        raise ValueError(f"{code}: baseUrl {base_url!r} is not an http(s) address") from None
    if httpx.URL(base_url).userinfo:
        raise ValueError(f"{code}: baseUrl holds credentials: keys go in Vault only")


DEFAULT_PORTS = {"http": 80, "https": 443}


def instance_of(base_url: str) -> str:
    """The instance an entry's base URL reaches, as the marketplace knows it: its host,
    lower-cased, in IDNA form, without a trailing dot, with its port unless it is the
    scheme's default; the scheme and path set aside (two entries of one instance may spell
    its address differently, an operator renamed or listed twice). ValueError for an
    address without a host."""
    try:
        url = httpx.URL(base_url)
        host = url.raw_host.decode("ascii").lower().rstrip(".")
    except (httpx.InvalidURL, UnicodeError):
        raise ValueError(f"{base_url!r} is not an address") from None
    if not host:
        raise ValueError(f"{base_url!r} names no host")
    if ":" in host:  # an IPv6 address, bracketed as in a URL so that its port stays apart
        host = f"[{host}]"
    port = url.port
    if port is None or port == DEFAULT_PORTS.get(url.scheme.lower()):
        return host
    return f"{host}:{port}"


@dataclass
class _FileReading(Generic[E]):
    entries: tuple[E, ...] = ()
    problem: str | None = None  # the last one logged, so that it is logged once


class Catalogue(Generic[E]):
    """The instances of ``entry`` (a msgspec Struct) packaged as ``package``'s
    ``resource``, overridden by the variables ``inline`` and ``file``; ``label`` and
    ``noun`` name the catalogue and its entries in log lines (the platform, "operators")."""

    def __init__(
        self,
        entry: type[E],
        package: str,
        resource: str,
        *,
        inline: str,
        file: str,
        label: str,
        noun: str,
    ) -> None:
        self._decoder = msgspec.json.Decoder(list[entry])  # type: ignore[valid-type]
        self.package, self.resource = package, resource
        self.inline, self.file = inline, file
        self.label, self.noun = label, noun
        self._files: dict[str, _FileReading[E]] = {}
        self._inline: dict[tuple[str, bool], tuple[E, ...]] = {}
        self._made: dict[tuple[Callable[[E], Any], bytes], Any] = {}
        self.packaged = cache(self._packaged)

    def each(self, make: Callable[[E], T]) -> tuple[T, ...]:
        """``make`` of every instance served now (its connector); an entry unchanged gives
        the same object at every call, so that what services keep by it (sessions,
        clients) holds."""
        made = []
        for entry in self.entries():
            key = (make, msgspec.json.encode(entry))
            if key not in self._made:
                self._made[key] = make(entry)
            made.append(self._made[key])
        return tuple(made)

    def parse(self, raw: bytes | str, where: str, *, production: bool = False) -> tuple[E, ...]:
        """The entries a catalogue document lists; CatalogueError saying what and where:
        not JSON, larger than MAX_CATALOGUE_BYTES, an entry off its shape or with
        credentials in its URL, a code twice, and, ``production``, a base URL not https or
        inside our network."""
        if len(raw) > MAX_CATALOGUE_BYTES:
            raise CatalogueError(f"{where}: larger than {MAX_CATALOGUE_BYTES} bytes")
        try:
            found: list[E] = self._decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise CatalogueError(f"{where}: {exc}") from None
        codes = [e.code for e in found]
        if twice := sorted({c for c in codes if codes.count(c) > 1}):
            raise CatalogueError(f"{where}: {', '.join(twice)} listed twice")
        if production:
            for entry in found:
                if problem := production_problem(entry.base_url):
                    raise CatalogueError(f"{where}: {entry.code}: baseUrl {problem}")
        return tuple(found)

    def entries(self, environ: Mapping[str, str] | None = None) -> tuple[E, ...]:
        """Every instance served now: the packaged ones, then the inline variable's, then
        the file's, a later entry replacing an earlier one of its code (in the first one's
        place), a new code appended."""
        env = os.environ if environ is None else environ
        served = {e.code: e for e in self.packaged()}
        # Production-like as every service's settings say it (``KEYBUZZ_ENV``).
        production = env.get("KEYBUZZ_ENV", "development") in PRODUCTION_LIKE
        if raw := env.get(self.inline, "").strip():
            served.update((e.code, e) for e in self._from_inline(raw, production))
        if path := env.get(self.file, "").strip():
            served.update((e.code, e) for e in self._from_file(path, production))
        return tuple(served.values())

    def entry(self, code: str, environ: Mapping[str, str] | None = None) -> E | None:
        """The instance of marketplace value ``code`` now, or None."""
        return next((e for e in self.entries(environ) if e.code == code), None)

    def _packaged(self) -> tuple[E, ...]:
        path = files(self.package) / self.resource
        return self.parse(path.read_bytes(), f"the packaged {self.resource}")

    def _from_inline(self, raw: str, production: bool) -> tuple[E, ...]:
        """The inline list; an invalid one is logged and left out (the environment does not
        change under a running process: once per value)."""
        known = (raw, production)
        if known not in self._inline:
            try:
                self._inline[known] = self.parse(raw, self.inline, production=production)
            except CatalogueError as exc:
                log.error("%s catalogue ignored: %s", self.label, exc)
                self._inline[known] = ()
        return self._inline[known]

    def _from_file(self, path: str, production: bool) -> tuple[E, ...]:
        """The file's entries, or its last good reading when it is missing or invalid."""
        reading = self._files.setdefault(path, _FileReading())
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_CATALOGUE_BYTES + 1)  # an oversized file is not read whole
            reading.entries = self.parse(raw, f"{self.file} {path}", production=production)
            reading.problem = None
        except (OSError, CatalogueError) as exc:
            problem = str(exc) if isinstance(exc, CatalogueError) else f"{path}: {exc.strerror}"
            if problem != reading.problem:
                log.error(
                    "%s catalogue file unreadable, its last good reading (%d %s) kept: %s",
                    self.label,
                    len(reading.entries),
                    self.noun,
                    problem,
                )
                reading.problem = problem
        return reading.entries


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
    (asked by ``kit/declaration.py``'s ``SessionFigures``). ``counting`` and ``sharing``:
    it on a marketplace that allows a call so many times a day, or a token so many times
    a day."""

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

    @property
    def parts(self) -> tuple[SessionInbox, ReplyChannel, OrderSource]:
        return self.inbox, self.replies, self.shop_orders

    def counting(self, calls: Requester) -> KitSession:
        """This session, its ``calls`` counting the marketplace's daily allowance."""
        return _AllowanceSession(self, calls)

    def sharing(self, token: ClientCredentials) -> KitSession:
        """This session, its ``token`` shared by every process's session of the shop."""
        return _SharedTokenSession(self, token)


class _AllowanceSession(KitSession):
    """A session on a marketplace that allows a call a number of times a day: the seam's
    ``CountsAllowanceCalls`` and ``LimitsAllowanceCalls``, from the requester's count."""

    def __init__(self, session: KitSession, calls: Requester) -> None:
        super().__init__(*session.parts, verify=session.verify, figure=session.figure)
        self.calls = calls

    def allowance_calls(self) -> int:
        return self.calls.allowance_calls()

    def limit_allowance_calls(self, total: int | None) -> None:
        self.calls.limit_allowance_calls(total)


class _SharedTokenSession(KitSession):
    """A session whose token (``token``, its client's) every process's session of the
    shop shares: the seam's ``SharesToken``, for a marketplace that limits the tokens an
    application may be granted a day."""

    def __init__(self, session: KitSession, token: ClientCredentials) -> None:
        super().__init__(*session.parts, verify=session.verify, figure=session.figure)
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


def instance_identity(platform: str, base_url: str, account: str) -> str:
    """A shop's identity on one instance of ``platform``'s API: the instance its base URL
    reaches and the shop's id (``"<platform>@<instance's host>:<shop id>"``)."""
    return f"{platform}@{instance_of(base_url)}:{account}"


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
        """The identity of shop ``account`` on the instance ``settings`` name."""
        return instance_identity(self.instance, settings.api_url, account)


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
# no ``open_session`` of its own. Its client it writes on one ``Opening`` (``client_from``):
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
    options: RequesterOptions


def _requester(**options: Unpack[RequesterOptions]) -> RequesterOptions:
    return options


def client_from(build: Callable[[Opening[S]], C]) -> ClientOf[S, C]:
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
# A shop-API connector family is one frozen ``Declaration`` and ``shop_api_connector``
# the one function that turns it into the seam's connector. The declaration says what its
# marketplace is and the three functions it writes on one client, ``client`` (its client,
# ``client_from``), ``parts`` (its inbox, replies and orders on that client) and ``probe``
# (one call as the shop, answering its identity), with the parts of the seam it has beyond.
# The kit makes the rest from them: the ``ShopApi`` (``KitShopApi`` on ``opener(client,
# parts)``, a ``ReplyGate`` where a gate is declared) and the credential check
# (``ProbeCheck``), both opening the one client.


@dataclass(frozen=True)
class ShopApiCalls(Generic[S, C]):
    """How a shop's client is opened and used: its settings ``view``, ``client``,
    ``parts`` and ``probe``; ``label``, the marketplace as a wrong view's TypeError names
    it; ``instance``, the platform, when its API's instances are data (``ProbeCheck``)."""

    view: type[S]
    client: ClientOf[S, C]
    parts: Parts[C, S]
    probe: Probe[C] | None
    label: str
    instance: str | None = None


@dataclass(frozen=True)
class Marketplace:
    """What a seller is shown of a marketplace: its value, its display name, the name of
    a shop's secret under its tenant in Vault, the fields the seller types and the
    marketplace's limits."""

    marketplace: str
    display_name: str
    secret: str
    credential_fields: tuple[CredentialField, ...]
    limits: Limits


@dataclass(frozen=True)
class Declaration(Generic[S, C]):
    """A connector family's one declaration, all ``shop_api_connector`` turns into the
    seam's connector: ``identity`` (its value, name, Vault secret, credential form and
    limits); ``calls`` (its authentication and answers on one client, its inbox, replies
    and orders on it, its identity probe); ``settings``; ``discussions`` (whom a reply goes
    to, its gate, what a reply carries); ``order_ids``. A part its marketplace lacks is
    absent (None): ``response_window``, ``response_figures`` (its own rule and figure),
    ``mail_relay`` and ``inbound_addresses`` (buyers' mails through its relay, its shop API
    then serving orders and the credential check only), ``redirect_flow`` (a seller who
    consents on the marketplace's site rather than typing credentials: no probe)."""

    identity: Marketplace
    calls: ShopApiCalls[S, C]
    settings: type[PartSettings]
    discussions: Discussions
    order_ids: OrderIds
    response_window: ResponseWindow | None = None
    response_figures: ResponseFigures | None = None
    mail_relay: MailRelay | None = None
    inbound_addresses: InboundAddresses | None = None
    redirect_flow: RedirectFlow | None = None


def _credential_check(calls: ShopApiCalls[S, C]) -> CredentialCheck | None:
    """The check of typed credentials by the declared probe (none without one)."""
    if calls.probe is None:
        return None
    if calls.instance is None:
        return ProbeCheck(calls.view, calls.label, calls.client, calls.probe)
    return InstanceProbeCheck(
        calls.view, calls.label, calls.client, calls.probe, instance=calls.instance
    )


def shop_api_connector(declared: Declaration[S, C]) -> ShopConnector:
    """The seam's connector of ``declared``: its shop API (a ``ReplyGate`` where its
    discussions declare a gate) and its credential check both open its one client."""
    identity, calls = declared.identity, declared.calls
    limits, open_session = identity.limits, opener(calls.client, calls.parts)
    return ShopConnector(
        marketplace=identity.marketplace,
        display_name=identity.display_name,
        secret=identity.secret,
        credential_fields=identity.credential_fields,
        limits=limits,
        settings_type=declared.settings,
        shop_api=kit_shop_api(
            limits, declared.discussions, calls.view, open_session, marketplace=calls.label
        ),
        credential_check=_credential_check(calls),
        order_ids=declared.order_ids,
        response_window=declared.response_window,
        response_figures=declared.response_figures,
        mail_relay=declared.mail_relay,
        inbound_addresses=declared.inbound_addresses,
        redirect_flow=declared.redirect_flow,
    )
