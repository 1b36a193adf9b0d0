"""One Mirakl shop's data: its customers' orders and the threads on them, seeded over the
90 days before the sandbox started and grown by the clock advance (admin). Timestamps are
real epoch seconds; the shop's own age (``offset``) only moves orders through their states."""

from __future__ import annotations

import random
from typing import NamedTuple

import msgspec
from keybuzz_sandbox.double_kit.draws import rng, uuid_of
from keybuzz_sandbox.double_kit.history import DAY, Lifecycle
from keybuzz_sandbox.double_kit.people import FIRST_NAMES, LAST_NAMES
from keybuzz_sandbox.faults import ReplyFaults

from .operators import Channel, OperatorSpec, ShopSpec

SEEDED_SPAN = 90 * DAY

# Participants of a thread (M10/M11 `type`) and senders of a message (`from.type`).
CUSTOMER, OPERATOR, SHOP = "CUSTOMER", "OPERATOR", "SHOP"
SENDER_TYPES = {CUSTOMER: "CUSTOMER_USER", OPERATOR: "OPERATOR_USER", SHOP: "SHOP_USER"}

PRODUCTS = (
    ("Perceuse visseuse 18 V", 89.9),
    ("Aspirateur sans fil", 199.0),
    ("Lampe de bureau LED", 34.5),
    ("Tente 2 places", 79.0),
    ("Cafetière expresso", 149.0),
    ("Chaise de jardin", 45.0),
)
CUSTOMER_BODIES = (
    "Bonjour, où en est ma commande ? Je n'ai reçu aucune nouvelle.",
    "Bonjour, le colis est arrivé abîmé, que faire ?",
    "Bonjour, puis-je encore modifier l'adresse de livraison ?",
)
OPERATOR_BODY = "Bonjour, le service client de {operator} : merci de répondre au client sous 24 h."


class Customer(msgspec.Struct, frozen=True):
    customer_id: str
    firstname: str
    lastname: str

    @property
    def display_name(self) -> str:
        return f"{self.firstname} {self.lastname[0]}."


class Refund(msgspec.Struct, frozen=True):
    refund_id: str
    amount: float
    created: float
    reason_code: str = "PRODUCT_DAMAGED"


class Line(msgspec.Struct, kw_only=True):
    line_id: str
    index: int
    title: str
    sku: str
    quantity: int
    unit_price: float
    state: str
    updated: float
    refunds: list[Refund] = []


class Order(msgspec.Struct, kw_only=True):
    order_id: str
    commercial_id: str
    channel: Channel
    customer: Customer
    created: float
    updated: float
    state: str
    lines: list[Line]
    shipping_tracking: str = ""

    @property
    def has_incident(self) -> bool:
        return any(line.state == "INCIDENT_OPEN" for line in self.lines)


class NewFile(NamedTuple):
    """A file a message is written with; its id the double's own unless one is asked for
    (a hostile id, for the tests of what a client does with it)."""

    name: str
    content: bytes
    attachment_id: str | None = None


class Attachment(msgspec.Struct, frozen=True):
    attachment_id: str
    name: str
    content: bytes


class Message(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    sender: str  # CUSTOMER, OPERATOR or SHOP
    sender_name: str
    to: tuple[str, ...]
    body: str
    created: float
    attachments: tuple[Attachment, ...] = ()


class Thread(msgspec.Struct, kw_only=True):
    thread_id: str
    order: Order
    topic_type: str
    topic: str
    created: float
    updated: float
    messages: list[Message] = []
    reply_needed_since: float | None = None
    no_reply_needed: list[tuple[float, str]] = []  # (when, user type)


# An order's states by its age (seconds since it was placed), in time order; 3 % are
# refused instead of shipped (the order's luck).
AGES = Lifecycle(
    events=(
        (0.0, "WAITING_ACCEPTANCE"),
        (0.05 * DAY, "SHIPPING"),
        (2 * DAY, "SHIPPED"),
        (6 * DAY, "RECEIVED"),
        (30 * DAY, "CLOSED"),
    )
)
REFUSED_AGES = Lifecycle(events=((0.0, "WAITING_ACCEPTANCE"), (0.05 * DAY, "REFUSED")))


class ShopBook:
    """A shop's orders and threads; ``sent`` records what the shop sent (M12, OR43)."""

    def __init__(
        self, seed: str, operator: OperatorSpec, spec: ShopSpec, shop_id: int, anchor: float
    ) -> None:
        self.reply_faults = ReplyFaults()  # how its threads show and date a seller's reply
        self.seed, self.operator, self.spec, self.shop_id = seed, operator, spec, shop_id
        self.offset = 0.0  # seconds of the shop's life played by the clock advance
        self.orders: dict[str, Order] = {}
        self.threads: dict[str, Thread] = {}
        self.attachments: dict[str, tuple[Order, Attachment]] = {}
        self.sent: list[dict[str, object]] = []
        self._serial = 0
        self._seed_history(anchor)

    def _random(self, *parts: object) -> random.Random:
        return rng(self.seed, self.operator.code, self.shop_id, *parts)

    def _seed_history(self, anchor: float) -> None:
        draw = self._random("history")
        for _ in range(self.spec.order_count):
            created = anchor - SEEDED_SPAN + draw.random() * SEEDED_SPAN
            order = self.place_order(created, anchor, draw)
            if draw.random() < self.spec.thread_rate:
                asked = min(created + 3_600, anchor)
                thread = self.open_thread(order, draw.choice(CUSTOMER_BODIES), asked)
                if draw.random() < 0.5:
                    answered = min(created + 7_200, anchor)
                    self.write(thread, SHOP, "Bonjour, nous regardons cela.", answered)
                if draw.random() < self.spec.operator_rate:
                    when = min(created + 10_800, anchor)
                    body = OPERATOR_BODY.format(operator=self.operator.name)
                    self.write(thread, OPERATOR, body, when)

    # --- orders --------------------------------------------------------------------------

    def place_order(self, created: float, now: float, draw: random.Random) -> Order:
        self._serial += 1
        commercial = f"{self.operator.code[:3]}{self.shop_id}{self._serial:06d}"
        first, last = draw.choice(FIRST_NAMES), draw.choice(LAST_NAMES)
        customer = Customer(
            uuid_of(self.seed, self.shop_id, "customer", first, last)[:13], first, last
        )
        lines = []
        for index in range(1, draw.choice((1, 1, 2)) + 1):
            title, price = draw.choice(PRODUCTS)
            lines.append(
                Line(
                    line_id=f"{commercial}-A-{index}",
                    index=index,
                    title=title,
                    sku=f"SKU-{PRODUCTS.index((title, price)):05d}",
                    quantity=1,
                    unit_price=price,
                    state="WAITING_ACCEPTANCE",
                    updated=created,
                )
            )
        order = Order(
            order_id=f"{commercial}-A",
            commercial_id=commercial,
            channel=draw.choice(self.operator.channels),
            customer=customer,
            created=created,
            updated=created,
            state="WAITING_ACCEPTANCE",
            lines=lines,
        )
        self.orders[order.order_id] = order
        self._age(order, now)
        return order

    def _age(self, order: Order, now: float) -> None:
        """The order's state for its age at ``now`` (the shop's time); incidents on shipped
        orders and refunds on received ones by the order's luck, fixed by its id."""
        luck = self._random("luck", order.order_id).random()
        ages = REFUSED_AGES if luck > 0.97 else AGES
        state, reached = ages.status_at(now + self.offset - order.created)
        if state == order.state:
            return
        # Seeded history: the real time the state was reached; a jump: the jump's time, so
        # that a client reading changes since its last poll sees it.
        now = min(now, order.created + reached) if self.offset == 0 else now
        order.state, order.updated = state, now
        if state in ("SHIPPED", "RECEIVED", "CLOSED") and not order.shipping_tracking:
            order.shipping_tracking = f"6A{order.commercial_id}"
        for line in order.lines:
            if line.state not in ("INCIDENT_OPEN", "REFUNDED"):
                line.state, line.updated = state, now
        if state in ("SHIPPED", "RECEIVED") and luck < self.spec.incident_rate:
            if not order.has_incident:
                self.open_incident(order, now)
        if state in ("RECEIVED", "CLOSED") and 0.5 < luck < 0.5 + self.spec.refund_rate:
            if not any(line.refunds for line in order.lines):
                self.refund(order, now)

    def open_incident(self, order: Order, now: float) -> Line:
        line = order.lines[0]
        line.state, line.updated, order.updated = "INCIDENT_OPEN", now, now
        return line

    def refund(self, order: Order, now: float) -> Line:
        line = order.lines[-1]
        refund_id = str(len(line.refunds) + 1 + 10_000 * line.index)
        amount = round(line.unit_price * line.quantity, 2)
        line.refunds.append(Refund(f"{line.line_id}-R{refund_id}", amount, now))
        line.state, line.updated, order.updated = "REFUNDED", now, now
        return line

    # --- threads -------------------------------------------------------------------------

    def open_thread(
        self,
        order: Order,
        body: str,
        when: float,
        sender: str = CUSTOMER,
        topic: tuple[str, str] = ("FREE_TEXT", "Question sur la commande"),
        files: tuple[NewFile, ...] = (),
    ) -> Thread:
        thread_id = uuid_of(
            self.seed, self.shop_id, "thread", len(self.threads), order.order_id, when
        )
        thread = Thread(
            thread_id=thread_id,
            order=order,
            topic_type=topic[0],
            topic=topic[1],
            created=when,
            updated=when,
        )
        self.threads[thread_id] = thread
        self.write(thread, sender, body, when, (SHOP,), files)  # a thread opened to the shop
        return thread

    def write(
        self,
        thread: Thread,
        sender: str,
        body: str,
        when: float,
        to: tuple[str, ...] | None = None,
        files: tuple[NewFile, ...] = (),
        sender_name: str | None = None,
    ) -> Message:
        if to is None:
            to = (SHOP,) if sender != SHOP else (CUSTOMER,)
        message_id = uuid_of(self.seed, thread.thread_id, "message", len(thread.messages), when)
        attachments = tuple(
            Attachment(f.attachment_id or uuid_of(message_id, "file", n), f.name, f.content)
            for n, f in enumerate(files)
        )
        for attachment in attachments:
            self.attachments[attachment.attachment_id] = (thread.order, attachment)
        message = Message(
            message_id=message_id,
            sender=sender,
            sender_name=sender_name or self.sender_name(sender, thread.order),
            to=to,
            body=body,
            created=when,
            attachments=attachments,
        )
        thread.messages.append(message)
        thread.updated = when
        if sender == SHOP:
            thread.reply_needed_since = None
        elif SHOP in to and thread.reply_needed_since is None:
            thread.reply_needed_since = when
        if sender == CUSTOMER:
            thread.order.updated = max(thread.order.updated, when)
        return message

    def sender_name(self, sender: str, order: Order) -> str:
        if sender == CUSTOMER:
            return order.customer.display_name
        if sender == OPERATOR:
            return f"Service client {self.operator.name}"
        return f"{self.spec.name} (vendeur)"

    def no_reply_needed(self, thread: Thread, now: float) -> None:
        """The operator marks the thread as needing no shop reply (Mirakl's back office)."""
        thread.no_reply_needed.append((now, "OPERATOR"))
        thread.reply_needed_since = None
        thread.updated = now

    # --- the clock advance ---------------------------------------------------------------

    def advance(self, seconds: float, now: float) -> dict[str, int]:
        """Play ``seconds`` of the shop's life at ``now``: new orders (at the seeded
        rate), customers opening threads on them and writing again in open threads,
        the operator's staff writing, orders moving through their states."""
        draw = self._random("advance", self.offset, seconds, now)
        self.offset += seconds
        expected = self.spec.order_count * seconds / SEEDED_SPAN
        placed = int(expected) + (1 if draw.random() < expected % 1 else 0)
        counts = {"orders": 0, "threads": 0, "messages": 0}
        for order in list(self.orders.values()):
            self._age(order, now)
        waiting = [t for t in self.threads.values() if t.reply_needed_since is None]
        for _ in range(placed):
            order = self.place_order(now, now, draw)
            counts["orders"] += 1
            if draw.random() < self.spec.thread_rate:
                self.open_thread(order, draw.choice(CUSTOMER_BODIES), now)
                counts["threads"] += 1
        for thread in waiting[: max(1, int(len(waiting) * min(1.0, seconds / DAY) * 0.1))]:
            if draw.random() < self.spec.operator_rate:
                body = OPERATOR_BODY.format(operator=self.operator.name)
                self.write(thread, OPERATOR, body, now)
            else:
                self.write(thread, CUSTOMER, "Bonjour, avez-vous du nouveau ?", now)
            counts["messages"] += 1
        return counts
