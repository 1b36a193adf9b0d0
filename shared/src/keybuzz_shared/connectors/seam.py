"""What every marketplace connector provides, whichever marketplace it serves.

A connector (one object per ``marketplace`` value, from ``registry.connector_for``) says
how a seller connects (``connection_kind``, ``credential_fields``) and what the marketplace
accepts (``limits``), and opens a session on one shop's credentials; the session is the
message source, the reply channel and the order source of that shop. Services choose
behaviour by a row's ``marketplace`` through the registry, never by naming a marketplace
(docs/ARCHITECTURE.md, "The connector seam").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

import msgspec

from keybuzz_shared.errors import DependencyUnavailable
from keybuzz_shared.settings import PartSettings

if TYPE_CHECKING:
    import httpx

    from keybuzz_shared.connectors.orders import (
        BuyerMessaging,
        Marketplaces,
        MessagingAction,
        OrderChange,
        OrderChangeNotifications,
        OrderListing,
        OrderReports,
    )
    from keybuzz_shared.connectors.orders import (
        OrderSource as FeedOrderSource,
    )
    from keybuzz_shared.file_links import FileLinks
    from keybuzz_shared.service import Runtime
    from keybuzz_shared.vault import VaultClient

ConnectionKind = Literal["OAUTH_REDIRECT", "CREDENTIALS"]
SenderType = Literal["BUYER", "MARKETPLACE_SUPPORT", "SELLER", "SYSTEM"]
# An order's thread, an offer's (a question before buying), or a discussion: a thread the
# marketplace names itself, about an order or not.
ThreadKind = Literal["ORDER", "OFFER", "DISCUSSION"]
# Who a reply is for: the buyer, the marketplace's customer care, an operator (a third
# party the marketplace puts in the thread, e.g. its carrier or a claims handler), or all.
Recipient = Literal["BUYER", "MARKETPLACE_SUPPORT", "OPERATOR", "ALL"]
ReplyStatus = Literal["SENT", "FAILED"]

T = TypeVar("T")


# --- errors every connector raises (each marketplace subclasses them) ---------------------
# A connector translates its marketplace's failures into these outcomes: retry later
# (MarketplaceUnavailable), re-authenticate (CredentialsRefused), refused with a reason
# (RequestRefused; for a reply, a FAILED ReplyOutcome), outcome unknown (OutcomeUnknown),
# and AnswerUnreadable for an answer it cannot read.


class ConnectorError(Exception):
    """Base of a connector's failures; messages never hold a credential."""


class CredentialsRefused(ConnectorError):
    """Re-authenticate: the marketplace refused the shop's credentials (after the session
    renewed its token once, where it has one): the seller must connect again."""


class MarketplaceUnavailable(ConnectorError, DependencyUnavailable):
    """Retry later: the marketplace is down or throttling us; the same call will work
    later, after ``retry_after`` seconds when the marketplace said so."""

    retry_after: float | None = None


class RequestRefused(ConnectorError):
    """Refused with a reason: the marketplace answered and refused this request (its
    message names why, with the marketplace's own codes); the same request would be
    refused again. A refused reply is a FAILED ``ReplyOutcome`` instead."""


class AnswerUnreadable(ConnectorError):
    """The marketplace's answer is not one the connector reads (not its format, truncated,
    too large, off its schema): nothing of it is used."""


class OutcomeUnknown(ConnectorError):
    """Outcome unknown: a call that sends something (a reply) lost its answer after it left: the marketplace
    may have acted on it. Read the thread back (``ReplyChannel.sent_messages``) before
    sending it again, or the buyer may get it twice."""


# --- what a connector describes ------------------------------------------------------------


class CredentialField(msgspec.Struct, frozen=True, kw_only=True):
    """One field a seller types in to connect a CREDENTIALS marketplace: the connector's
    declaration, from which oauth builds the connection's request body, checks and
    normalises what was typed (``credential_form.read_credentials``) and describes the
    form to the frontend (``GET /api/v1/marketplaces``)."""

    name: str  # the connector's own name for it: the key in Vault and in ``verify``
    json_name: str  # the request body's and the catalogue's (camelCase)
    label: str  # what the form shows
    secret: bool = False  # never shown back, logged nor quoted in an error
    pattern: str | None = None  # a regular expression the whole value must match
    # What ``pattern`` means, said to people in a refusal and in the catalogue ("UUID").
    format: str | None = None
    max_length: int = 256
    # The spelling the marketplace writes the value in: what is typed is stored so, which
    # keeps a comparison of two spellings of one value exact.
    case: Literal["upper", "lower"] | None = None
    # The value names the shop on the marketplace: the connection's shop id (one field).
    account: bool = False


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """What one reply and one listing may hold on this marketplace."""

    max_attachments: int
    max_attachment_bytes: int  # all the attachments of one reply together
    max_text_length: int  # characters of a reply's body
    page_size: int  # items a listing page asks for
    # The attachments' media types a reply may carry; empty: the marketplace lists none.
    attachment_formats: tuple[str, ...] = ()


# --- what a session reads and sends --------------------------------------------------------


class ThreadKey(msgspec.Struct, frozen=True):
    """The marketplace thread a message belongs to, by the marketplace's own id: an
    order's (``id`` is the order's), an offer's, or a discussion's (``order_id``: the order
    it is about, when there is one)."""

    kind: ThreadKind
    id: str
    order_id: str | None = None

    @property
    def order(self) -> str | None:
        """The order the thread is about, if any."""
        return self.id if self.kind == "ORDER" else self.order_id


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    url: str
    content_type: str | None = None


class MarketplaceMessage(msgspec.Struct, frozen=True, kw_only=True):
    external_id: str
    thread: ThreadKey
    sender_type: SenderType
    sender_name: str | None
    subject: str
    body: str
    sent_at: datetime  # aware
    attachments: tuple[Attachment, ...] = ()


# KeyBuzz's order vocabulary (orders' ``OrderStatus`` and ``DeliveryStatus``): each
# connector maps its marketplace's states into it.
ORDER_STATUSES = ("PENDING", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED")
DELIVERY_STATUSES = (
    "PREPARING",
    "SHIPPED",
    "IN_TRANSIT",
    "OUT_FOR_DELIVERY",
    "DELIVERED",
    "DELAYED",
    "LOST",
)


class OrderLine(msgspec.Struct, frozen=True, kw_only=True):
    line_id: str
    state: str  # the marketplace's own state name
    product_name: str
    quantity: int
    seller_sku: str | None = None
    status: str = "PENDING"  # ``state`` in ORDER_STATUSES
    unit_price: Decimal | None = None
    currency: str | None = None


class OrderSummary(msgspec.Struct, frozen=True, kw_only=True):
    external_id: str
    state: str  # the marketplace's own state name
    created_at: datetime
    updated_at: datetime
    lines: tuple[OrderLine, ...] = ()
    status: str = "PENDING"  # ``state`` in ORDER_STATUSES
    delivery_status: str | None = None  # in DELIVERY_STATUSES
    buyer_name: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    tracking_code: str | None = None


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """One page of a listing. ``next_cursor`` asks for the next page (None: the last one):
    opaque to callers, who pass it back as it is and never keep it past the listing (a
    page number, a ``Link`` URL, a seek token: the connector's choice). The last page's
    ``complete_until`` is where the next listing starts (``since``); ``unreadable`` says
    why items the marketplace listed were left out."""

    items: tuple[T, ...]
    next_cursor: str | None
    complete_until: datetime | None = None
    unreadable: tuple[str, ...] = ()


class ReplyFile(msgspec.Struct, frozen=True, kw_only=True):
    """A file a reply carries, as bytes: the session sends it the way its marketplace
    takes files. Checked against the connector's ``Limits`` before the reply is queued."""

    name: str
    content_type: str  # a MIME type, lower case
    data: bytes


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    thread: ThreadKey
    in_reply_to: str  # external id of the message answered
    body: str
    recipient: Recipient = "BUYER"
    subject: str | None = None  # a marketplace may accept only its own subjects
    attachments: tuple[ReplyFile, ...] = ()


class ReplyOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """SENT, or FAILED with why. A FAILED reply is final: sending it again cannot help.
    A transient outage (nothing sent) raises MarketplaceUnavailable; a lost answer
    OutcomeUnknown."""

    status: ReplyStatus
    reason: str | None = None


# --- what a shop's inbox holds (the poller's polls) ---------------------------------------


class InboxFile(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    url: str
    content_type: str  # a MIME type (guessed from the name when the marketplace gives none)


class InboxMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A shop's message, with what polling needs besides the seam's MarketplaceMessage."""

    message_id: str
    thread_type: str  # ORDER or OFFER, as the marketplace says it
    thread_id: str
    sender_type: SenderType
    sender_name: str | None
    subject: str
    body: str
    created_at: datetime
    unread: bool
    files: tuple[InboxFile, ...] = ()


class InboxIncident(msgspec.Struct, frozen=True, kw_only=True):
    """A claim on an order, handled by the marketplace's customer service."""

    incident_id: str
    order_id: str
    status: str
    types: tuple[str, ...]
    waiting_for_seller: bool
    opened_by: str | None
    message: str
    created_at: datetime
    updated_at: datetime


# --- the Protocols ------------------------------------------------------------------------


class MessageSource(Protocol):
    async def messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[MarketplaceMessage]:
        """Messages created from ``since`` on, oldest first; ``cursor`` continues a listing."""
        ...


class InboxSource(Protocol):
    """A shop's inbox as the poller reads it: messages with their read state and files,
    the claims (incidents) on its orders, and marking messages read."""

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        """Messages created from ``since`` on, oldest first; ``cursor`` (a page's
        ``next_cursor``) continues the listing. ValueError for a cursor it did not give."""
        ...

    async def incidents(self, *, since: datetime, cursor: str | None = None) -> Page[InboxIncident]:
        """Incidents updated from ``since`` on, oldest first; ``cursor`` as above."""
        ...

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        """Marks the messages read at the marketplace; how many it refused."""
        ...

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        """A message's file, downloaded with the session's auth when the marketplace wants
        it, through the ``FileLinks`` the session was given (its declared origins, public
        addresses only): ``file_links.LinkRefused`` for a link off them (or when none were
        given), ``FileTooLarge`` over ``max_bytes``, ``FileUnavailable`` for an answer
        without the file, MarketplaceUnavailable when the file server is unreachable."""
        ...


class ReplyChannel(Protocol):
    async def reply(self, reply: Reply) -> ReplyOutcome: ...

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[MarketplaceMessage]:
        """The seller's messages on ``thread`` created from ``since`` on, oldest first: where
        a reply whose outcome was unknown is found, if it went."""
        ...


class OrderSource(Protocol):
    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        """Orders changed from ``since`` on; ``cursor`` continues a listing."""
        ...

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        """Orders created in [start, end), oldest first: a window that never shifts, since
        an order's creation does not change (a backfill's date windows)."""
        ...

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        """The orders named (any number: the session splits them as the marketplace needs)."""
        ...


class MarketplaceSession(MessageSource, InboxSource, ReplyChannel, OrderSource, Protocol):
    """One shop's connection, and the only one: the poller's polls (``InboxSource``) and
    replies (``ReplyChannel``) and orders' listings (``OrderSource``) call the same kind of
    session, each process keeping one per shop (``shop_sessions.ShopSessions``), so a shop
    holds one token. Raises CredentialsRefused, MarketplaceUnavailable, or another
    ConnectorError for an answer it cannot read; messages never hold a credential."""

    async def verify(self) -> None:
        """Checks the credentials now; raises CredentialsRefused or MarketplaceUnavailable."""
        ...


class ShopApi(Protocol):
    """The part of a connector whose marketplace is polled over an API, shop by shop."""

    def session(
        self,
        credentials: Mapping[str, str],
        *,
        http: httpx.AsyncClient,
        base_url: str,
        files: FileLinks | None = None,
    ) -> MarketplaceSession:
        """A session on one shop (``credentials``: the fields of ``credential_fields``, as
        stored in Vault; ``files``: where its messages' files may be fetched from, none
        when None); raises ValueError when a field is missing."""
        ...

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        """Whom a reply on ``thread`` may be addressed to on this marketplace; a reply to
        anyone else is refused before it is queued."""
        ...

    def reply_text(self, text: str) -> str:
        """``text`` as the marketplace carries a reply: what it lists back once the reply
        is sent (characters it cannot carry replaced or left out). Replies are queued so
        and read back compared so."""
        ...

    def refusal_codes(self, outcome: ReplyOutcome) -> tuple[str, ...]:
        """The marketplace's own codes for why it refused a reply (a FAILED outcome), each
        once, in order; () when it named none. They are the reply's outcome code."""
        ...

    @property
    def claim_subject(self) -> str:
        """How the subject starts (any case) of the message the marketplace posts in an
        order's thread when a claim is opened on it: that message is the claim's notice,
        shown once. A claim whose notice is not there is shown under this subject."""
        ...

    def claim_opener(self, opened_by: str | None) -> SenderType:
        """Who opened a claim (its ``opened_by`` as the marketplace gave it): the buyer, or
        the marketplace's customer service."""
        ...


class Connector(Protocol):
    """One marketplace. What every marketplace has comes first; then its parts, each None
    where the marketplace does not work that way (services test the part, never the name)."""

    @property
    def marketplace(self) -> str: ...

    @property
    def display_name(self) -> str:
        """How sellers call it ("Connect <display_name>")."""
        ...

    @property
    def connection_kind(self) -> ConnectionKind: ...

    @property
    def credential_fields(self) -> tuple[CredentialField, ...]: ...

    @property
    def limits(self) -> Limits: ...

    def credentials_path(self, tenant_id: str) -> str:
        """Where in Vault the tenant's credentials for this marketplace are kept."""
        ...

    @property
    def settings_type(self) -> type[PartSettings] | None:
        """Its package's settings (a ``ConnectorSettings``), read with a service's at start-up."""
        ...

    # --- its parts ---

    @property
    def shop_api(self) -> ShopApi | None:
        """Shops polled over the marketplace's API: one session per shop for its inbox
        (messages, claims, read marks), replies and orders."""
        ...

    @property
    def redirect_flow(self) -> RedirectFlow | None:
        """A seller connects by consenting on the marketplace's site (OAUTH_REDIRECT)."""
        ...

    @property
    def inbound_addresses(self) -> InboundAddresses | None:
        """Buyers' messages reach us by e-mail, at an address per tenant and country."""
        ...

    @property
    def credential_check(self) -> CredentialCheck | None:
        """Whether the credentials a seller typed authenticate (CREDENTIALS)."""
        ...

    @property
    def order_ids(self) -> OrderIds | None:
        """What the marketplace's order ids look like."""
        ...

    @property
    def order_feed(self) -> OrderFeed | None:
        """The marketplace's own order API with reports, change notifications and buyer
        messaging (orders' backfill by reports, notifications, messaging actions)."""
        ...

    @property
    def mail_relay(self) -> MailRelay | None:
        """Buyers write, and replies go back, through the marketplace's e-mail relay."""
        ...

    @property
    def response_window(self) -> ResponseWindow | None:
        """The marketplace measures the seller's response time by a rule of its own."""
        ...


def shop_api_of(connector: Connector) -> ShopApi:
    """The connector's ShopApi; LookupError for a marketplace that is not polled by API."""
    api = connector.shop_api
    if api is None:
        raise LookupError(f"{connector.marketplace} shops are not polled over an API")
    return api


# --- redirect flow (used by oauth) ---------------------------------------------------------
# The seller is sent to the marketplace's consent page; it sends the browser back with an
# authorization code and the seller's account id; the code is exchanged for a refresh
# token, kept in Vault. oauth owns the generic part (state, browser binding, rows, events).


class RedirectFlowError(Exception):
    """Base of a redirect flow's failures (the marketplace's own errors subclass these);
    messages never hold a secret."""


class AppNotConfigured(RedirectFlowError):
    """Our app's credentials with the marketplace are not in Vault (or lack a field)."""


class AccountCredentialsMissing(RedirectFlowError):
    """A tenant's credentials are not in Vault (or lack a field)."""


class GrantRefused(RedirectFlowError):
    """The token endpoint refused the request; ``code`` is its error code."""

    code: str


class GrantInvalid(GrantRefused):
    """The authorization code (or refresh token) is revoked, already used or expired."""


class TokenEndpointUnavailable(RedirectFlowError):
    """The token endpoint kept failing transiently: the same request may work later."""


class ConsentSite(Protocol):
    """One site (a country) of the marketplace, where a seller consents."""

    @property
    def code(self) -> str:
        """What the product app sends ("FR")."""
        ...

    @property
    def id(self) -> str:
        """The marketplace's id of the site."""
        ...

    @property
    def region(self) -> str:
        """The tokens of a consent work on every site of its region."""
        ...


class RedirectApp(Protocol):
    """Our app as registered with the marketplace (its secrets stay in the connector)."""

    @property
    def application_id(self) -> str: ...

    @property
    def redirect_uri(self) -> str:
        """The callback registered with the marketplace."""
        ...

    @property
    def draft(self) -> bool:
        """A draft app is consented to on the marketplace's beta consent page."""
        ...

    @property
    def source(self) -> str:
        """Which app's credentials (several may coexist in Vault)."""
        ...


class AccountCredentials(Protocol):
    """What Vault keeps for a tenant's connection: the refresh token and whose it is."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def refresh_token(self) -> str: ...

    @property
    def seller_id(self) -> str: ...

    @property
    def marketplace_id(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def created_at(self) -> str: ...


class TokenGrant(Protocol):
    @property
    def refresh_token(self) -> str | None: ...


class RedirectFlowSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A redirect flow's settings, as a service reads them (``MarketplaceSettings.redirect_flow``)."""

    default_site: str  # the site of a start request that names none
    consent_origin: str | None  # replaces the site's consent origin (the sandbox)
    draft: bool | None  # overrides the app credential's ``draft``
    frontend_url: str  # where the browser lands after the callback
    app_source: str  # which app's credentials
    token_endpoint: str
    token_cacert: str | None  # an extra CA bundle for the token endpoint


class AccountVault(Protocol):
    """The app's credentials and the tenants' refresh tokens, in Vault."""

    async def app_credentials(self) -> RedirectApp:
        """``AppNotConfigured`` when absent or incomplete, ``VaultError`` when Vault fails."""
        ...

    async def store(self, credentials: AccountCredentials) -> str:
        """Writes (replaces) the tenant's credentials; returns their Vault path."""
        ...

    async def check(self, tenant_id: str) -> AccountCredentials:
        """The stored credentials, from a copy a few seconds old at most (cleared by
        ``store``/``delete``); ``AccountCredentialsMissing`` when absent, ``VaultError``."""
        ...

    async def delete(self, tenant_id: str) -> None:
        """Deletes the tenant's credentials (every version); absent is not an error."""
        ...


class CodeExchange(Protocol):
    async def exchange_code(self, app: RedirectApp, code: str, redirect_uri: str) -> TokenGrant:
        """``GrantInvalid`` for a refused code, ``TokenEndpointUnavailable`` when the
        endpoint does not answer, ``GrantRefused`` for any other refusal."""
        ...

    async def aclose(self) -> None: ...


class RedirectFlow(Protocol):
    """The marketplace's side of the redirect: its sites, its consent URL, its callback's
    account ids, its token endpoint and where Vault keeps what a consent gave."""

    def site(self, code: str) -> ConsentSite:
        """The site of a country code (any case) or of a site id; ValueError when unknown."""
        ...

    def consent_url(
        self,
        app: RedirectApp,
        site: ConsentSite,
        *,
        state: str,
        redirect_uri: str,
        origin: str | None = None,
        draft: bool | None = None,
    ) -> str:
        """Where to send the seller; ``origin`` replaces the site's, ``draft`` the app's."""
        ...

    def is_account_id(self, value: str) -> bool:
        """Whether the callback's account id has the marketplace's shape."""
        ...

    def credentials(
        self,
        *,
        tenant_id: str,
        refresh_token: str,
        account_id: str,
        site: ConsentSite,
        created_at: str,
    ) -> AccountCredentials:
        """What a consent on ``site`` gives, as Vault keeps it."""
        ...

    def vault(self, vault: VaultClient, app_source: str) -> AccountVault: ...

    def code_exchange(self, settings: RedirectFlowSettings) -> CodeExchange: ...


# --- inbound addresses (used by tenant-sync) -----------------------------------------------


class InboundAddresses(Protocol):
    """A marketplace whose buyers' messages reach us as e-mails: each tenant gets an address
    per country, made of a random token so that knowing a tenant id does not reveal it."""

    def address(self, tenant_id: str, country: str, token: str, domain: str) -> str: ...


# --- credential check (used by oauth) ------------------------------------------------------


class CredentialCheck(Protocol):
    """The check of a CREDENTIALS marketplace's shop before it is connected."""

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, base_url: str
    ) -> str:
        """Returns the account's identity when the marketplace accepts ``credentials`` (the
        fields of ``credential_fields``), asked for a person waiting: little retrying. Raises
        CredentialsRefused, MarketplaceUnavailable (with ``retry_after`` when the
        marketplace said one), or another ConnectorError for an answer that is not its
        API's; messages never hold a credential.

        The identity names the API and the account it answered for, normalised (e.g.
        ``<api>:<SHOP ID>``): two marketplace values served by one API give one shop one
        identity, whichever value it was connected under. Callers compare identities only."""
        ...


# --- order ids and the order feed (used by orders) ---------------------------------------


class OrderIds(Protocol):
    """A marketplace's order ids: a value checked, ids found in free text."""

    @property
    def described(self) -> str:
        """The format, for an error message ("an X order id (…)"); connectors sharing a
        format share the words."""
        ...

    def is_order_id(self, value: str) -> bool: ...

    def order_ids_in(self, text: str) -> list[str]:
        """Every order id written in ``text``, in order of appearance."""
        ...


class OrderFeed(Protocol):
    """The orders service's adapters on a marketplace's own order API (the types they
    give are ``keybuzz_shared.connectors.orders``'s; orders' ports take them as they are).
    The status tables say what the marketplace's failures are in HTTP."""

    @property
    def error_statuses(self) -> Mapping[type[Exception], int]:
        """The feed's refusals of reading orders (e.g. the seller not connected)."""
        ...

    @property
    def messaging_error_statuses(self) -> Mapping[type[Exception], int]:
        """The refusals of the tenant's access when a buyer message is sent."""
        ...

    @property
    def refusal_statuses(self) -> Mapping[type[Exception], int]:
        """The marketplace's refusals of a buyer message: ``refusal`` says them."""
        ...

    @property
    def text_max_length(self) -> Mapping[MessagingAction, int]:
        """The most characters of a buyer message's ``text``; an action absent takes none."""
        ...

    @property
    def outage_or_refusal(self) -> tuple[type[Exception], ...]:
        """What the feed's calls raise when the marketplace or its sign-in fails."""
        ...

    @property
    def not_connected(self) -> tuple[type[Exception], ...]:
        """Raised when the tenant has no credentials for the marketplace."""
        ...

    def refusal(self, exc: Exception) -> tuple[str, dict[str, object]]:
        """A refusal of ``refusal_statuses`` as an error message and its details."""
        ...

    def read_change(self, body: str | bytes) -> OrderChange:
        """A queued change notification's body; ``MalformedNotification`` when unreadable."""
        ...

    def open(self, runtime: Runtime[Any], http: httpx.AsyncClient) -> OpenedFeed:
        """The adapters on the service's runtime (its Vault, settings, outbox)."""
        ...


class OpenedFeed(Protocol):
    """The adapters of one process (orders' ports, ``connectors/orders.py``); closed at
    shutdown."""

    @property
    def source(self) -> FeedOrderSource: ...

    @property
    def fallback(self) -> OrderListing:
        """When the source's listing is refused to us."""
        ...

    @property
    def reports(self) -> OrderReports: ...

    @property
    def marketplaces(self) -> Marketplaces:
        """The tenant's marketplace id."""
        ...

    @property
    def messaging(self) -> BuyerMessaging: ...

    def change_notifications(
        self, queue_arn: Callable[[], Awaitable[str]]
    ) -> OrderChangeNotifications:
        """The change notifications to the queue whose ARN ``queue_arn`` gives."""
        ...

    @property
    def components(self) -> tuple[object, ...]:
        """The clients it made, for the runtime to register by type."""
        ...

    async def aclose(self) -> None: ...


# --- mail_relay (used by poller) ----------------------------------------------------------


class RelayReplyRules(msgspec.Struct, frozen=True, kw_only=True):
    """What the relay takes in a seller's reply mail."""

    max_text_chars: int
    max_attachments: int
    max_attachment_bytes: int  # all attachments of a message together
    # File name extension (lower case, with its dot) -> the content types it may carry.
    attachment_types: Mapping[str, frozenset[str]]


class MailRelay(Protocol):
    """The marketplace's buyer-seller e-mail relay: a buyer's mail reaches the tenant's
    inbound address from an anonymised alias, and a reply to the alias reaches the buyer.
    The mail itself (MIME, bounces, the MX) is the poller's; what is the relay's is here."""

    @property
    def address_label(self) -> str:
        """The first label of the local part of the tenant's inbound addresses for it."""
        ...

    @property
    def buyer_address_form(self) -> str:
        """A buyer alias as people read it (``…@relay.example.<tld>``), for messages."""
        ...

    @property
    def reply_rules(self) -> RelayReplyRules: ...

    def is_buyer_address(self, address: str) -> bool:
        """An anonymised buyer alias of the relay."""
        ...

    def buyer_name(self, display_name: str) -> str | None:
        """The buyer's name from the display name of their alias (the relay's suffix off)."""
        ...

    def order_ids_in(self, text: str) -> list[str]:
        """The marketplace's order ids written in a mail's text, in order of appearance."""
        ...

    def reply_subject(self, buyer_subject: str, order_id: str | None) -> str:
        """The subject of a reply to a mail with ``buyer_subject``, as the relay files it."""
        ...

    @property
    def demo_mail_count(self) -> int:
        """How many demo mails a tenant's demo mailbox holds (the relay's mock mode)."""
        ...

    def demo_mail(self, tenant_id: str, index: int, inbound_domain: str, stamp: str) -> bytes:
        """The ``index``-th demo mail of a tenant, the same bytes every time; ``stamp`` is
        the header the MX puts the inbound address in."""
        ...


def mail_relay_of(connector: Connector) -> MailRelay:
    """The connector's MailRelay; LookupError for a marketplace without an e-mail relay."""
    relay = connector.mail_relay
    if relay is None:
        raise LookupError(f"{connector.marketplace} has no e-mail relay")
    return relay


# --- response_window (used by poller) -----------------------------------------------------


class ResponseRule(msgspec.Struct, frozen=True, kw_only=True):
    """How long a marketplace gives a seller to answer a buyer message."""

    window: timedelta
    # Calendar clock: weekends, holidays and nights count like any hour.
    clock: str = "calendar"
    # Whether the marketplace offers an API to mark a message "no response needed" on its side.
    mark_api: bool = False


class MarketplaceMark(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Whether our "no response needed" reaches the marketplace, and where the agent marks it."""

    synced: bool
    note: str
    url: str | None  # the page of the buyer's thread in the seller's console, if one can be built


class ResponseWindow(Protocol):
    """A marketplace that measures the seller by its own response rule (no tenant override)."""

    @property
    def rule(self) -> ResponseRule: ...

    def mark(self, order_id: str | None, country: str | None) -> MarketplaceMark:
        """Where an agent marks a message "no response needed" on the marketplace's side."""
        ...
