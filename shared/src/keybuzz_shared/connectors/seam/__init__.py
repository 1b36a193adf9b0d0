"""What every marketplace connector provides, whichever marketplace it serves.

A connector (one object per ``marketplace`` value, from ``registry.connector_for``) says
how a seller connects (``connection_kind``, ``credential_fields``) and what the marketplace
accepts (``limits``), and opens a session on one shop's credentials; the session is the
message source, the reply channel and the order source of that shop. Services choose
behaviour by a row's ``marketplace`` through the registry, never by naming a marketplace
(docs/ARCHITECTURE.md, "The connector seam").

One module per part: ``errors`` (what a connector raises), ``credentials`` (how a seller
connects), ``limits``, ``page`` (a listing's page), ``messages`` (threads, messages,
replies), ``orders`` (a shop's orders), ``shop_api`` (the shop's session and inbox),
``redirect_flow``, ``inbound_addresses``, ``order_ids``, ``order_feed``, ``mail_relay``,
``response_window``, ``response_figures``, ``reply_gate`` (a reply refused before it is
queued by its thread's state), ``thread_closing`` (a thread closed from our API), ``shop_tokens`` (a shop's token kept for every process),
and ``connector`` (``Connector`` and the ``*_of`` helpers); each name is imported from
here."""

from keybuzz_shared.connectors.seam.connector import (
    Connector,
    ConnectorDefaults,
    connects_by,
    mail_relay_of,
    messages_by_api,
    shop_api_of,
)
from keybuzz_shared.connectors.seam.credentials import (
    ConnectionKind,
    CredentialCheck,
    CredentialField,
    InstanceIdentity,
)
from keybuzz_shared.connectors.seam.errors import (
    AnswerUnreadable,
    CallAnswerUnreadable,
    CallOutcomeUnknown,
    CallRefused,
    CallUnavailable,
    ConnectorError,
    CredentialsRefused,
    MarketplaceUnavailable,
    OutcomeUnknown,
    RequestRefused,
    ShopCredentialsRefused,
)
from keybuzz_shared.connectors.seam.inbound_addresses import (
    InboundAddresses,
)
from keybuzz_shared.connectors.seam.limits import (
    Limits,
)
from keybuzz_shared.connectors.seam.mail_relay import (
    MailPart,
    MailRelay,
    ParsedMail,
    RelayReplyRules,
    attachment_types,
    demo_relay_mail,
    relay_reply_subject,
    relayed_message,
)
from keybuzz_shared.connectors.seam.messages import (
    InboxFile,
    InboxMessage,
    MessageSource,
    Recipient,
    Reply,
    ReplyChannel,
    ReplyFile,
    ReplyOutcome,
    ReplyStatus,
    SenderType,
    ThreadDetail,
    ThreadKey,
    ThreadKind,
)
from keybuzz_shared.connectors.seam.order_feed import (
    FeedContext,
    OpenedFeed,
    OrderFeed,
)
from keybuzz_shared.connectors.seam.order_ids import (
    OrderIds,
)
from keybuzz_shared.connectors.seam.orders import (
    DELIVERY_STATUSES,
    ORDER_STATUSES,
    OrderLine,
    OrderSource,
    OrderSummary,
)
from keybuzz_shared.connectors.seam.page import (
    Page,
    cursor_of,
    read_each,
    state_of,
)
from keybuzz_shared.connectors.seam.parts_session import PartsSession, SessionInbox
from keybuzz_shared.connectors.seam.read_back import (
    SENT_SKEW,
    is_same_text,
    is_sent_reply,
)
from keybuzz_shared.connectors.seam.redirect_flow import (
    AccountCredentials,
    AccountCredentialsMissing,
    AccountGrant,
    AccountVault,
    AppKeptOnce,
    AppNotConfigured,
    CallbackNames,
    CodeExchange,
    ConsentedAccount,
    ConsentSite,
    GrantInvalid,
    GrantRefused,
    RedirectApp,
    RedirectFlow,
    RedirectFlowError,
    RedirectFlowSettings,
    TokenEndpointUnavailable,
    TokenGrant,
)
from keybuzz_shared.connectors.seam.reply_gate import (
    ReplyGate,
    ThreadStanding,
)
from keybuzz_shared.connectors.seam.response_figures import (
    ResponseFigure,
    ResponseFigures,
)
from keybuzz_shared.connectors.seam.response_window import (
    WORKING_DAYS,
    MarketplaceMark,
    ResponseRule,
    ResponseWindow,
)
from keybuzz_shared.connectors.seam.shop_api import (
    AllowanceSpent,
    AppCallBudget,
    CountsAllowanceCalls,
    DiscussionShopApi,
    InboxIncident,
    InboxSource,
    LimitsAllowanceCalls,
    MarketplaceSession,
    ShopApi,
    ShopApiSettings,
    ThreadsInbox,
    failed_reply,
    sent_since,
)
from keybuzz_shared.connectors.seam.shop_tokens import (
    SharesToken,
    StoredToken,
    TokenStore,
    TokenStoreUnavailable,
)
from keybuzz_shared.connectors.seam.thread_closing import (
    ThreadClosing,
)

__all__ = [
    "SharesToken",
    "StoredToken",
    "TokenStore",
    "TokenStoreUnavailable",
    "AppCallBudget",
    "CallAnswerUnreadable",
    "CallOutcomeUnknown",
    "CallRefused",
    "CallUnavailable",
    "AccountGrant",
    "AppKeptOnce",
    "CallbackNames",
    "ThreadsInbox",
    "failed_reply",
    "sent_since",
    "SENT_SKEW",
    "is_same_text",
    "is_sent_reply",
    "DiscussionShopApi",
    "PartsSession",
    "SessionInbox",
    "AccountCredentials",
    "AccountCredentialsMissing",
    "AccountVault",
    "AnswerUnreadable",
    "AppNotConfigured",
    "CodeExchange",
    "ConnectionKind",
    "AllowanceSpent",
    "CountsAllowanceCalls",
    "LimitsAllowanceCalls",
    "Connector",
    "ConnectorDefaults",
    "ConnectorError",
    "ConsentSite",
    "ConsentedAccount",
    "CredentialCheck",
    "CredentialField",
    "InstanceIdentity",
    "CredentialsRefused",
    "ShopCredentialsRefused",
    "DELIVERY_STATUSES",
    "GrantInvalid",
    "GrantRefused",
    "InboundAddresses",
    "InboxFile",
    "InboxIncident",
    "InboxMessage",
    "InboxSource",
    "Limits",
    "MailPart",
    "MailRelay",
    "ParsedMail",
    "MarketplaceMark",
    "MarketplaceSession",
    "MarketplaceUnavailable",
    "MessageSource",
    "ORDER_STATUSES",
    "FeedContext",
    "OpenedFeed",
    "OrderFeed",
    "OrderIds",
    "OrderLine",
    "OrderSource",
    "OrderSummary",
    "OutcomeUnknown",
    "Page",
    "Recipient",
    "RedirectApp",
    "RedirectFlow",
    "RedirectFlowError",
    "RedirectFlowSettings",
    "RelayReplyRules",
    "ReplyGate",
    "ThreadStanding",
    "Reply",
    "ReplyChannel",
    "ReplyFile",
    "ReplyOutcome",
    "ReplyStatus",
    "RequestRefused",
    "ResponseFigure",
    "ResponseFigures",
    "ThreadClosing",
    "ResponseRule",
    "WORKING_DAYS",
    "ResponseWindow",
    "SenderType",
    "ShopApi",
    "ShopApiSettings",
    "ThreadDetail",
    "ThreadKey",
    "ThreadKind",
    "TokenEndpointUnavailable",
    "TokenGrant",
    "cursor_of",
    "mail_relay_of",
    "connects_by",
    "messages_by_api",
    "read_each",
    "attachment_types",
    "demo_relay_mail",
    "relay_reply_subject",
    "relayed_message",
    "shop_api_of",
    "state_of",
]
