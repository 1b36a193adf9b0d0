"""What the Fnac/Darty client sends and reads, in Fnac's terms, and its failures (docs/FNAC.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal, NamedTuple

import msgspec
from keybuzz_shared.connectors import seam
from keybuzz_shared.connectors.kit import Node, Redacted

MessageType = Literal["ORDER", "OFFER"]
FromType = Literal["CLIENT", "CALLCENTER", "SELLER", "SYSTEM"]
MessageTo = Literal["CLIENT", "CALLCENTER", "ALL"]
MessageSubject = Literal[
    "product_information",
    "shipping_information",
    "order_information",
    "offer_problem",
    "offer_not_received",
    "other_question",
]
MessageAction = Literal["mark_as_read", "reply"]  # of Fnac's, those the connector sends
Sort = Literal["ASC", "DESC"]

MAX_ORDER_IDS = 50  # orders_fnac_id / incidents' orders hold at most 50 (OrdersQueryService.xsd)


# --- errors ---------------------------------------------------------------------------------
class FnacError(seam.ConnectorError):
    """Base of the failures Fnac's envelope says; each names Fnac (its ``label``, read first)."""

    label = "Fnac"


class FnacCredentialsRefused(FnacError, Node.StatusEnvelope.CredentialsRefused):
    """``auth`` refused the partner_id/shop_id/key (wrong, or the key was revoked)."""


class FnacProtocolError(FnacError, seam.AnswerUnreadable):
    """The answer is not one we read (docs/FNAC.md, "Failure modes")."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"unreadable Fnac response: {reason}")
        self.reason = reason


class FnacRequestRefused(FnacError, Node.StatusEnvelope.Refused):
    """The response's status is ERROR or FATAL; Fnac's error codes are kept."""


def refusal_codes(reason: str) -> tuple[str, ...]:
    """Fnac's ``ERR_…`` codes in a refusal's text, each once, in order."""
    codes = (word.strip(",;:()") for word in reason.split() if word.startswith("ERR_"))
    return tuple(dict.fromkeys(codes))


# --- queries and updates: each field named as its element, in the XSD's order ----------------
class DateRange(msgspec.Struct, frozen=True, kw_only=True):
    """``<date type="CreatedAt"><min/><max/></date>``, each end as ``xml_instant`` writes it."""

    type: str = msgspec.field(name="@type")
    min: str | None = None
    max: str | None = None


class ByCreation(msgspec.Struct, frozen=True):
    """messages_query's ``<sort_by type="ASC">CREATED_AT</sort_by>``."""

    type: Sort = msgspec.field(name="@type")
    by: str = msgspec.field(default="CREATED_AT", name=".")


class Paged(msgspec.Struct, frozen=True, kw_only=True):
    """What every query of a listing opens with: the page's size and number, its window;
    its service, the items it lists, and where a page is bounded, each item's bytes."""

    SERVICE: ClassVar[str]
    ITEM: ClassVar[str]
    ITEM_BYTES: ClassVar[int | None] = None

    results_count: int = msgspec.field(default=100, name="@results_count")
    page: int = msgspec.field(default=1, name="paging")
    date: DateRange | None = None


class MessagesQuery(Paged, frozen=True, kw_only=True):
    SERVICE, ITEM, ITEM_BYTES = "messages_query", "message", 64 * 1024
    message_type: MessageType | None = None
    order_ids: tuple[str, ...] = msgspec.field(default=(), name="order_fnac_id")
    sort: ByCreation | None = msgspec.field(default=None, name="sort_by")
    from_types: tuple[FromType, ...] = msgspec.field(
        default=(), name="message_from_types/from_type"
    )


class MessageUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """One ``<message id action>`` of messages_update (a reply's fields, or the id alone)."""

    message_id: str = msgspec.field(name="@id")
    action: MessageAction = msgspec.field(name="@action")
    to: MessageTo | None = msgspec.field(default=None, name="message_to")
    subject: MessageSubject | None = msgspec.field(default=None, name="message_subject")
    text: str | None = msgspec.field(default=None, name="message_description")
    message_type: MessageType | None = None


class MessagesUpdate(msgspec.Struct, frozen=True):
    messages: tuple[MessageUpdate, ...] = msgspec.field(name="message")

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("messages_update needs at least one message")


class IncidentsQuery(Paged, frozen=True, kw_only=True):
    SERVICE, ITEM = "incidents_query", "incident"
    sort: Sort | None = msgspec.field(default=None, name="sort_by")


class OrdersQuery(IncidentsQuery, frozen=True, kw_only=True):
    """An incidents query's filters, in its order, then the orders' ids (the XSDs' order)."""

    SERVICE, ITEM = "orders_query", "order"

    order_ids: tuple[str, ...] = msgspec.field(default=(), name="orders_fnac_id/order_fnac_id")

    def __post_init__(self) -> None:
        if len(self.order_ids) > MAX_ORDER_IDS:
            raise ValueError(f"Fnac takes at most {MAX_ORDER_IDS} order ids per query")


# --- what we read -------------------------------------------------------------------------
class AuthToken(Redacted, frozen=True, kw_only=True):
    SECRETS = frozenset({"token"})
    token: str
    validity: datetime | None = None


class Paging(msgspec.Struct, frozen=True, kw_only=True):
    """A response without paging elements (a plain list) is one page."""

    page: int = 1
    total_paging: int = 1
    nb_total_result: int | None = None

    @property
    def has_next(self) -> bool:
        return self.page < self.total_paging


class MessageUpdateResult(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str | None = msgspec.field(default=None, name="@id")
    status: str = msgspec.field(default="", name="@status")
    errors: tuple[Node.StatusEnvelope.Error, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "OK" and not self.errors


class OrderDetail(msgspec.Struct, frozen=True, kw_only=True):
    order_detail_id: str
    state: str
    product_name: str = ""
    quantity: int = 0
    price: Decimal | None = None
    offer_seller_id: str | None = None
    tracking_number: str | None = None
    created_at: datetime | None = None
    debited_at: datetime | None = None
    received_at: datetime | None = None
    refused_at: datetime | None = None
    shipped_at: datetime | None = None


class Order(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    shop_id: str | None = None
    state: str
    created_at: datetime
    client_firstname: str | None = None
    client_lastname: str | None = None
    details: tuple[OrderDetail, ...] = msgspec.field(default=(), name="order_detail")

    @property
    def last_change(self) -> datetime:
        """Fnac gives an order no updated_at: the latest date it shows stands for it."""
        dates = ("created_at", "debited_at", "received_at", "refused_at", "shipped_at")
        shown: list[datetime | None] = [getattr(d, n) for d in self.details for n in dates]
        return max([self.created_at, *(moment for moment in shown if moment is not None)])


class Listed(NamedTuple):
    """A page of messages, orders or incidents: its paging and its item nodes, raw."""

    paging: Paging
    items: tuple[Node, ...]
