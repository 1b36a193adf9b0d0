"""The eBay connector (docs/EBAY.md): the Message API's conversations, the orders."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from keybuzz_shared.connectors import kit, seam

from keybuzz_connector_ebay.consent import TENANT_SECRET, USER_TOKENS, EbayRedirectFlow, app_refused
from keybuzz_connector_ebay.settings import EBAY, SCOPES, EbayApiSettings, EbaySettings

log = logging.getLogger(__name__)
NAME = "eBay"
MESSAGES, ORDER = "commerce/message/v1/", "sell/fulfillment/v1/order"
# sendMessage: 2,000 characters, its media links to files the sender hosts (we host none)
# [official]. 25 conversations a page (eBay's default, at most 50 [official]).
LIMITS = seam.Limits(max_attachments=0, max_attachment_bytes=0, max_text_length=2000, page_size=25)
MEDIA = {
    "IMAGE": "image/jpeg",
    "PDF": "application/pdf",
    "DOC": "application/msword",
    "TXT": "text/plain",
}  # eBay's media types [official]
# A page of getOrders: 200 at most, of getConversation's messages: 50 [official].
ORDERS_PAGE, MESSAGES_PAGE = 200, 50
# A conversation names a listing, never an order [official]: the buyer's order of the item is
# looked for among the seller's recent orders, once a listing (docs/EBAY.md, "Conversations").
PURCHASE_DAYS, PURCHASE_PAGES = 60, 3
ERRORS = kit.CallErrors.labelled(NAME, credentials="consent")
# Its token endpoint grants an application so many tokens a day (docs/EBAY.md, "Token grants").
SPEC = kit.ApiSpec(NAME, log, ERRORS, kit.Refusals(held=app_refused), grants_per_period=True)
# A seller's session takes its consent's entry with its app's secret, kept once (consent.py).
FIELDS = (
    seam.CredentialField(name="user_id", json_name="userId", label="eBay user id", account=True),
    kit.key_field("refresh_token", "Refresh token", max_length=4096),
    kit.key_field("client_id", "App id", max_length=256, secret=False),
    kit.key_field("client_secret", "App secret", max_length=256),
)
# Order fulfilment state [official: OrderFulfillmentStatus] → (our status, delivery status).
PREPARING = ("CONFIRMED", "PREPARING")
FULFILMENT = kit.ListedOrders.States(
    {"NOT_STARTED": PREPARING, "IN_PROGRESS": PREPARING, "FULFILLED": ("SHIPPED", "SHIPPED")}
)
# A payment state that is no sale, or a sale refunded [official: OrderPaymentStatusEnum].
PAYMENT = {"PENDING": "PENDING", "FAILED": "CANCELLED", "FULLY_REFUNDED": "RETURNED"}
CANCELLED = {"CANCELED", "IN_PROGRESS"}  # cancelState: cancelled, or being cancelled
# Members' conversations with a message since the window's start (``start_time``), then
# eBay's, which take no time filter [official]: their latest message says.
KINDS = {"FROM_MEMBERS": True, "FROM_EBAY": False}


class Media(msgspec.Struct, rename="camel", frozen=True):
    media_name: str = ""
    media_type: str = ""
    media_url: str = ""

    @property
    def file(self) -> seam.InboxFile:
        content_type = MEDIA.get(self.media_type, "application/octet-stream")
        return seam.InboxFile(name=self.media_name, url=self.media_url, content_type=content_type)


class Message(msgspec.Struct, rename="camel", frozen=True):
    message_id: str
    created_date: datetime
    message_body: str = ""
    sender_username: str = ""
    subject: str = ""
    read_status: bool = False
    message_media: list[Media] = []


class Conversation(msgspec.Struct, rename="camel", frozen=True):
    conversation_id: str
    conversation_type: str = "FROM_MEMBERS"
    conversation_title: str = ""
    reference_id: str | None = None
    reference_type: str | None = None
    latest_message: Message | None = None
    thread: list[Message] = []  # read whole (``EbayClient.whole``), never as listed
    order_id: str | None = None  # the buyer's order of its item, looked for

    @property
    def item(self) -> str | None:
        return self.reference_id if self.reference_type == "LISTING" else None

    def sender(self, said: Message, me: str) -> seam.SenderType:
        """eBay's in its own conversations, else the seller's (``me``) or the buyer's."""
        if self.conversation_type == "FROM_EBAY":
            return "MARKETPLACE_SUPPORT"
        return "SELLER" if said.sender_username.lower() == me.lower() != "" else "BUYER"


class Amount(msgspec.Struct, frozen=True):
    value: str | None = None
    currency: str | None = None


class Line(msgspec.Struct, rename="camel", frozen=True):
    line_item_id: str
    title: str = ""
    quantity: int = 1
    sku: str | None = None
    line_item_cost: Amount | None = None
    line_item_fulfillment_status: str = ""
    listing_marketplace_id: str | None = None
    legacy_item_id: str | None = None  # the listing's item, as a conversation names it


class Order(msgspec.Struct, rename="camel", frozen=True):
    order_id: str
    creation_date: datetime
    last_modified_date: datetime
    order_fulfillment_status: str = ""
    order_payment_status: str = ""
    cancel_status: dict[str, Any] = {}
    buyer: dict[str, Any] = {}
    line_items: list[Line] = []

    @property
    def buyer_name(self) -> str:
        return str(self.buyer.get("username") or "")

    @property
    def status(self) -> tuple[str, str | None]:
        """Our status and delivery status (docs/EBAY.md, "Order states")."""
        if str(self.cancel_status.get("cancelState", "")) in CANCELLED:
            return "CANCELLED", None
        paid = PAYMENT.get(self.order_payment_status)  # no sale, or refunded
        return (paid, None) if paid else FULFILMENT[self.order_fulfillment_status]


# (buyer's username in lower case, item id) → the buyer's newest order of the item.
Purchases = dict[tuple[str, str], str]


def purchases(raw: Sequence[Any]) -> Purchases:
    """The newest order of each item by each buyer among getOrders' answers ``raw`` (of two
    placed at once, the first listed); an order unread is left out (its listing says so)."""
    bought, _ = kit.reader(Order, "an order")(list(raw))
    newest_last = sorted(enumerate(bought), key=lambda at: (at[1].creation_date, -at[0]))
    return {
        (order.buyer_name.lower(), line.legacy_item_id): order.order_id
        for _, order in newest_last
        if order.buyer_name
        for line in order.line_items
        if line.legacy_item_id
    }


def buyer_of(conversation: Conversation, thread: Sequence[Message], me: str) -> str | None:
    """The member who wrote to the seller in a members' conversation (eBay's own: none)."""
    buyers = (m.sender_username for m in thread if conversation.sender(m, me) == "BUYER")
    return next((name for name in buyers if name), None)


def messages_of(
    conversation: Conversation, thread: Sequence[Message], me: str, order_id: str | None = None
) -> list[seam.InboxMessage]:
    """A conversation's messages, waiting from the buyer's first one after the seller's last
    (eBay's own: none; eBay says no "answer needed"); ``order_id``: the buyer's order."""
    sent = [(said, conversation.sender(said, me)) for said in thread]
    waiting: datetime | None = None
    for said, sender in sorted(sent, key=lambda at: at[0].created_date):
        waiting = waiting or said.created_date if sender == "BUYER" else None
    key = seam.ThreadKey("DISCUSSION", conversation.conversation_id, order_id=order_id)
    return [
        seam.InboxMessage(
            message_id=said.message_id,
            thread=key,
            sender_type=sender,
            sender_name="eBay" if sender == "MARKETPLACE_SUPPORT" else said.sender_username or None,
            subject=said.subject or conversation.conversation_title or "eBay",
            body=said.message_body,
            created_at=said.created_date,
            files=tuple(m.file for m in said.message_media if m.media_url),
            unread=sender != "SELLER" and not said.read_status,
            reply_needed_since=waiting,
            thread_details=kit.shown(("item", "Objet eBay", conversation.item)),
        )
        for said, sender in sent
    ]


class EbayClient(kit.Requester):
    """One seller's calls; ``username`` its eBay name, as the Message API names senders."""

    def __init__(self, shop: kit.Declaration.Opening[EbayApiSettings]) -> None:
        fields, api, kw = shop.credentials, shop.api, shop.options
        scope, refresh = " ".join(SCOPES), fields["refresh_token"]
        grant = {"grant_type": "refresh_token", "refresh_token": refresh, "scope": scope}
        auth = USER_TOKENS(api.token_url, fields["client_id"], fields["client_secret"], grant=grant)
        super().__init__(SPEC, auth, shop.http, api.api_url, shop={"user": fields["user_id"]}, **kw)
        self._username, self.user_token = "", auth
        self.identity = kit.Requester(SPEC, auth, self._http, api.identity_url, **kw)
        self.orders = kit.JsonAnswers(self, items="orders", items_optional=True)
        what, empty = "eBay's orders for the conversations", Purchases()
        self.purchases = kit.Listing.Lookup(self.recent_purchases, empty, what)

    async def username(self) -> str:
        if not self._username:
            user = await self.identity.get_json("commerce/identity/v1/user/", operation="getUser")
            self._username = str(user.get("username") or "") if isinstance(user, dict) else ""
        return self._username

    async def whole(self, conversation: Conversation) -> Conversation:
        """``conversation`` with its messages and the buyer's order of its item."""
        try:
            path = f"{MESSAGES}conversation/{kit.path_segment(conversation.conversation_id)}"
        except ValueError:  # not an id: nothing read, whatever its listing said
            return msgspec.structs.replace(conversation, thread=[], order_id=None)
        pages = kit.JsonAnswers(self, items="messages", items_optional=True)
        query = {"conversation_type": conversation.conversation_type}
        raw = await pages.every(path, query, size=MESSAGES_PAGE, operation="getConversation")
        thread = list(kit.reader(Message, "a message")(raw)[0])
        me, item = await self.username(), conversation.item
        buyer = buyer_of(conversation, thread, me)
        bought = await self.purchases.get() if buyer is not None and item else {}
        order_id = bought.get(((buyer or "").lower(), item or ""))
        return msgspec.structs.replace(conversation, thread=thread, order_id=order_id)

    async def recent_purchases(self) -> Purchases:
        low = kit.iso_z(datetime.now(UTC) - timedelta(days=PURCHASE_DAYS))
        query = {"filter": f"creationdate:[{low}..]"}
        most, call = PURCHASE_PAGES, "getOrders"
        found = await self.orders.every(ORDER, query, size=ORDERS_PAGE, most=most, operation=call)
        return purchases(found)

    async def mark(self, conversation: Conversation) -> None:
        """eBay marks a conversation read, not a message (``updateConversation``)."""
        said = {"conversationId": conversation.conversation_id, "read": True}
        body = said | {"conversationType": conversation.conversation_type}
        path = f"{MESSAGES}update_conversation"
        await self.request("POST", path, name="updateConversation", body=body, answered=False)

    async def reply(self, reply: seam.Reply) -> None:
        body = {"conversationId": reply.thread.id, "messageText": reply.body}
        await self.request("POST", f"{MESSAGES}send_message", body=body, idempotent=False)


def inbox(client: EbayClient) -> kit.KitSession.ListedThreads[Conversation]:
    """Each kind of conversation listed whole (``KINDS``), then the next, each read whole."""
    size, kind = LIMITS.page_size, "conversation_type"
    latest = lambda c: c.latest_message.created_date if c.latest_message else None  # noqa: E731
    kinds = kit.Listing.Kinds[Conversation](KINDS, latest, size=size, kind_param=kind)
    pages = kit.JsonAnswers(client, items="conversations", items_optional=True)
    listing = pages.listing(
        f"{MESSAGES}conversation", kinds, "start_time", operation="getConversations"
    )

    async def mapper() -> Callable[[Conversation], list[seam.InboxMessage]]:
        me = await client.username()
        return lambda c: messages_of(c, c.thread, me, c.order_id)

    return kit.KitSession.ListedThreads(
        listing,
        kit.reader(Conversation, "a conversation"),
        complete=lambda _: False,
        read_whole=client.whole,
        mapper=mapper,
        named=lambda conversation: f"conversation {conversation.conversation_id}",
        files=lambda file, most: client.get_bytes(file.url, most),
        since_only=True,
        lookups=(client.purchases,),
        mark_thread=client.mark,
    )


def order_of(raw: Any) -> seam.OrderSummary:
    order = kit.read_as(Order, raw, "an order")
    status, delivery = order.status
    sites = {line.listing_marketplace_id or "" for line in order.line_items} - {""}
    return seam.OrderSummary(
        external_id=order.order_id,
        state=order.order_fulfillment_status or "UNKNOWN",
        created_at=order.creation_date,
        updated_at=order.last_modified_date,
        status=status,
        delivery_status=delivery,
        buyer_name=order.buyer_name or None,
        sales_channel=",".join(sorted(sites)) or None,
        lines=tuple(
            seam.OrderLine(
                line_id=line.line_item_id,
                state=line.line_item_fulfillment_status or "UNKNOWN",
                product_name=line.title,
                quantity=line.quantity,
                seller_sku=line.sku,
                status=status,
                # eBay's ``lineItemCost`` is the line's total [official]
                unit_price=kit.unit_price((line.line_item_cost or Amount()).value, line.quantity),
                currency=line.line_item_cost.currency if line.line_item_cost else None,
            )
            for line in order.line_items
        ),
    )


def orders_of(client: EbayClient) -> kit.ListedOrders:
    def listing(field: str) -> kit.ListedOrders.OrderListing:
        def query(low: datetime, high: datetime | None) -> dict[str, str]:
            end = kit.iso_z(high) if high else ""
            return {"filter": f"{field}:[{kit.iso_z(low)}..{end}]"}

        pages = client.orders.offsets(ORDER, ORDERS_PAGE, operation="getOrders")
        return kit.Listing(kit.Listing.Seek(), query, pages)

    async def named(ids: str) -> list[Any]:
        return (await client.orders.page(ORDER, {"orderIds": ids}, operation="getOrders"))[0]

    return kit.ListedOrders(
        updated=listing("lastmodifieddate"),
        created=listing("creationdate"),
        by_id=kit.ListedOrders.InLists(named, 50, askable=ORDER_IDS.is_order_id),
        read=order_of,
        calls=client,
    )


def session_of(client: EbayClient, _api: EbayApiSettings) -> kit.KitSession:
    # A reply's read-back: the conversation as the inbox reads it (no listing: no order).
    async def listed(thread: str) -> list[seam.InboxMessage]:
        read = await client.whole(Conversation(thread))
        return messages_of(read, read.thread, await client.username())

    replies = kit.DeclaredReplies(NAME, "conversation", post=client.reply, listed=listed)
    session = kit.KitSession(inbox(client), replies, orders_of(client), verify=client.username)
    return session.sharing(client.user_token)  # eBay grants so many a day ("Token grants")


# eBay's order ids: "12-34567-89012" [official examples], older ones digits alone.
ORDER_IDS = kit.OrderIdPattern("[0-9]{2}-[0-9]{5}-[0-9]{5}", "an eBay one (12-34567-89012)")
DISCUSSIONS = kit.Declaration.Discussions(
    ("BUYER",), support_sender="eBay", claim_subject="Litige eBay"
)
# eBay publishes no response time for sellers' messages [official]: the window is ours,
# 24 hours (a tenant may shorten it), run on eBay's threads (``messages_of``).
RESPONSE_WINDOW = kit.Declaration.OwnRule.hours(24, "eBay keeps no such mark")

CONNECTOR = kit.shop_api_connector(
    kit.Declaration(
        EBAY,
        NAME,
        FIELDS,
        LIMITS,
        secret=TENANT_SECRET,
        client=EbayClient,
        parts=session_of,
        probe=None,
        settings=EbaySettings,
        discussions=DISCUSSIONS,
        order_ids=ORDER_IDS,
        response_window=RESPONSE_WINDOW,
        redirect_flow=EbayRedirectFlow(),
    )
)
