"""The connector kit: what a shop-API connector declares (its API, its authentication,
its refusals, its credential fields, its listings and their paging) and the shared
requester and order source that run it from that declaration."""

from keybuzz_shared.connectors.kit.answers import Answers, Garbled, Refusal
from keybuzz_shared.connectors.kit.at_once import at_once
from keybuzz_shared.connectors.kit.auth import Auth, ClientCredentials, HeaderAuth, KeptToken
from keybuzz_shared.connectors.kit.catalogue import Catalogue, check_base_url, instance_of
from keybuzz_shared.connectors.kit.connector import (
    AllowanceSession,
    Discussions,
    KitSession,
    KitShopApi,
    OpenSession,
    SharedTokenSession,
    ShopConnector,
    kit_shop_api,
    settings_view,
)
from keybuzz_shared.connectors.kit.credential_check import (
    ClientOf,
    InstanceProbeCheck,
    Probe,
    ProbeCheck,
    own_account,
    shop_options,
)
from keybuzz_shared.connectors.kit.credential_structs import Redacted, credentials_as
from keybuzz_shared.connectors.kit.declaration import (
    Declaration,
    Marketplace,
    ShopApiCalls,
    shop_api_connector,
)
from keybuzz_shared.connectors.kit.declared_relay import DeclaredRelay, DemoMail
from keybuzz_shared.connectors.kit.declared_replies import DeclaredReplies
from keybuzz_shared.connectors.kit.discussion_reads import offered_parties, whole_when
from keybuzz_shared.connectors.kit.dkim_keys import DkimKeys, Lookup
from keybuzz_shared.connectors.kit.dkim_signatures import verified_signatures
from keybuzz_shared.connectors.kit.fields import (
    PRINTABLE,
    key_field,
    require_fields,
    shop_number_field,
)
from keybuzz_shared.connectors.kit.kept_cursors import earlier, earlier_text
from keybuzz_shared.connectors.kit.linked_files import file_type, linked_file, media_type_of
from keybuzz_shared.connectors.kit.listing import (
    Count,
    Fetch,
    Listing,
    NextLink,
    Numbered,
    Offsets,
    OffsetState,
    PageNumbers,
    Pages,
    Paging,
    Query,
    Read,
    Renumbered,
    Seek,
    SeekToken,
    Span,
    Step,
    Token,
    iso_window,
    logged_each,
    window_of,
)
from keybuzz_shared.connectors.kit.one_item import item_at, path_under
from keybuzz_shared.connectors.kit.options import RequesterOptions
from keybuzz_shared.connectors.kit.order_ids import OrderIdPattern
from keybuzz_shared.connectors.kit.orders import (
    ById,
    EachById,
    InLists,
    ListedOrders,
    OrderListing,
    decimal_of,
)
from keybuzz_shared.connectors.kit.page_bounds import follows, past_bound, repeats
from keybuzz_shared.connectors.kit.read_first import read_first
from keybuzz_shared.connectors.kit.read_in_turn import ReadInTurn
from keybuzz_shared.connectors.kit.read_marks import ReadMarks, Unmarked
from keybuzz_shared.connectors.kit.refusals import COMMON_REASON_KEYS, Held, Refusals
from keybuzz_shared.connectors.kit.reply_files import refused_files
from keybuzz_shared.connectors.kit.requester import (
    ApiSpec,
    Call,
    CallErrors,
    Pace,
    Part,
    Requester,
)
from keybuzz_shared.connectors.kit.rereads import Rereads
from keybuzz_shared.connectors.kit.response_parts import OwnRule, SessionFigures
from keybuzz_shared.connectors.kit.sessions import Opening, Parts, client_from, opener
from keybuzz_shared.connectors.kit.shop_settings import ShopSettings
from keybuzz_shared.connectors.kit.shown_details import labelled, shown
from keybuzz_shared.connectors.kit.signed_mail import MailSignature, Signed
from keybuzz_shared.connectors.kit.thread_pages import thread_page
from keybuzz_shared.connectors.kit.typed_items import (
    decode_each,
    decoded,
    map_each,
    mapped,
    with_unread,
)
from keybuzz_shared.connectors.kit.unit_prices import unit_price
from keybuzz_shared.connectors.kit.windows import window_query
from keybuzz_shared.connectors.kit.wire import (
    PersonName,
    PersonNameLower,
    PersonNameSnake,
    answer_as,
    full_name,
    iso_millis,
    iso_seconds,
    iso_z,
    named_in,
    path_segment,
    read_as,
    reader,
    segment,
    to_millisecond,
    url_under,
)
from keybuzz_shared.connectors.kit.xml_answers import (
    Element,
    Node,
    decode,
    decoding,
    parse_datetime,
)
from keybuzz_shared.connectors.kit.xml_envelope import (
    EnvelopeCredentialsRefused,
    Enveloped,
    EnvelopeError,
    EnvelopeRefused,
    ErrorRoot,
    StatusEnvelope,
    XmlAnswer,
)

__all__ = [
    "Catalogue",
    "DeclaredRelay",
    "DemoMail",
    "DkimKeys",
    "Element",
    "EnvelopeCredentialsRefused",
    "EnvelopeError",
    "EnvelopeRefused",
    "Enveloped",
    "Lookup",
    "MailSignature",
    "OrderListing",
    "OwnRule",
    "Read",
    "Redacted",
    "SessionFigures",
    "Signed",
    "StatusEnvelope",
    "check_base_url",
    "credentials_as",
    "decode",
    "decoding",
    "earlier",
    "earlier_text",
    "file_type",
    "follows",
    "iso_window",
    "labelled",
    "linked_file",
    "logged_each",
    "map_each",
    "mapped",
    "media_type_of",
    "offered_parties",
    "parse_datetime",
    "past_bound",
    "path_segment",
    "path_under",
    "read_first",
    "repeats",
    "shown",
    "unit_price",
    "verified_signatures",
    "whole_when",
    "window_of",
    "with_unread",
    "Declaration",
    "Marketplace",
    "ShopApiCalls",
    "shop_api_connector",
    "at_once",
    "ClientOf",
    "shop_options",
    "own_account",
    "Probe",
    "ProbeCheck",
    "InstanceProbeCheck",
    "instance_of",
    "ById",
    "Count",
    "Pages",
    "Renumbered",
    "decimal_of",
    "EachById",
    "Fetch",
    "InLists",
    "ListedOrders",
    "Listing",
    "NextLink",
    "Numbered",
    "OffsetState",
    "Offsets",
    "PageNumbers",
    "Paging",
    "Query",
    "Seek",
    "SeekToken",
    "Token",
    "Span",
    "Step",
    "AllowanceSession",
    "DeclaredReplies",
    "Discussions",
    "KitSession",
    "SharedTokenSession",
    "KitShopApi",
    "kit_shop_api",
    "OpenSession",
    "ShopConnector",
    "settings_view",
    "COMMON_REASON_KEYS",
    "PRINTABLE",
    "ApiSpec",
    "Auth",
    "Call",
    "CallErrors",
    "ClientCredentials",
    "HeaderAuth",
    "KeptToken",
    "Held",
    "OrderIdPattern",
    "Pace",
    "Part",
    "Refusals",
    "Requester",
    "RequesterOptions",
    "key_field",
    "require_fields",
    "shop_number_field",
    "Answers",
    "Garbled",
    "Refusal",
    "thread_page",
    "decode_each",
    "decoded",
    "refused_files",
    "ReadMarks",
    "Unmarked",
    "Parts",
    "opener",
    "ShopSettings",
    "PersonName",
    "PersonNameLower",
    "PersonNameSnake",
    "full_name",
    "iso_millis",
    "iso_seconds",
    "to_millisecond",
    "iso_z",
    "answer_as",
    "read_as",
    "reader",
    "segment",
    "url_under",
    "named_in",
    "Rereads",
    "Opening",
    "client_from",
    "ReadInTurn",
    "item_at",
    "window_query",
    "Node",
    "ErrorRoot",
    "XmlAnswer",
]
