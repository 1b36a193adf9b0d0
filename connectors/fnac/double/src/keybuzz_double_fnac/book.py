"""One shop's state: its orders as they stand (computed on demand), its messages and
incidents (made concrete as ``DrawnShop`` says) with what the seller did to them, and the
queries over them."""

from __future__ import annotations

import math
from collections.abc import Iterable

import msgspec
from keybuzz_sandbox.clock import SellerTimeline
from keybuzz_sandbox.double_kit.admin import advance_summary
from keybuzz_sandbox.double_kit.books import DrawnShop

from .generator import (
    NEW_CLAIM_SUBJECT,
    FileFacts,
    IncidentFacts,
    MessageFacts,
    OrderFacts,
    ShopGenerator,
)
from .shops import Credentials, uuid_from


class MessageRecord:
    """A message as the seller's actions left it (times virtual)."""

    __slots__ = ("facts", "read", "answer", "answered", "updated")

    def __init__(self, facts: MessageFacts) -> None:
        self.facts = facts
        self.read = facts.answered is not None or facts.from_type == "SELLER"
        self.answer = facts.answer
        self.answered = facts.answered
        self.updated = facts.answered if facts.answered is not None else facts.created + 120


class IncidentRecord:
    """An incident as Fnac's customer service left it (times virtual; it closes them all)."""

    __slots__ = ("facts", "closed", "closed_status")

    def __init__(self, facts: IncidentFacts) -> None:
        self.facts = facts
        self.closed = facts.closed
        self.closed_status = facts.closed_status

    def is_open(self, virtual_now: float) -> bool:
        return self.facts.opened <= virtual_now and (
            self.closed is None or self.closed > virtual_now
        )

    def updated(self, virtual_now: float) -> float:
        """When it last changed by ``virtual_now``: its closing once closed, else its opening."""
        closed = self.closed is not None and self.closed <= virtual_now
        return self.closed if closed and self.closed is not None else self.facts.opened


class SentMessage(msgspec.Struct, kw_only=True, rename="camel"):
    """What the seller sent through messages_update (GET /_sandbox/fnac/shops/{id}/sent)."""

    message_id: str
    action: str  # reply
    in_reply_to: str
    referer_type: str
    referer: str
    message_to: str
    subject: str
    description: str
    created_at: float  # real epoch seconds


class ShopBook(DrawnShop[ShopGenerator, Credentials]):
    def __init__(
        self,
        gen: ShopGenerator,
        timeline: SellerTimeline,
        credentials: Credentials,
        public_url: str = "",
    ) -> None:
        super().__init__(gen, timeline, credentials)
        # Where the shop's message files are downloaded: <files_url><file_id>.
        self.files_url = f"{public_url}/fnac/files/{credentials.shop_id}/"
        self.messages: dict[str, MessageRecord] = {}
        # The linked files of the messages made concrete, with their message's creation.
        self.files: dict[str, tuple[FileFacts, float]] = {}
        self.incidents: dict[int, IncidentRecord] = {}  # by order index
        self.sent: list[SentMessage] = []
        self.by_order: dict[int, list[MessageRecord]] = {}  # order index -> its messages
        self._sorted: list[MessageRecord] | None = None

    @property
    def shop_id(self) -> str:
        return self.credentials.shop_id

    def reached(self, real_now: float) -> float:
        """The shop's virtual time at ``real_now``, what was drawn by then made concrete."""
        now = self.virtual(real_now)
        self.materialize(now)
        return now

    # --- making the history concrete ----------------------------------------------

    def order_drawn(self, index: int) -> None:
        messages, incident = self._thread(index)
        self._add_messages(messages)
        if incident is not None:
            self.incidents[index] = IncidentRecord(incident)

    def _thread(self, index: int) -> tuple[list[MessageFacts], IncidentFacts | None]:
        """Order ``index``'s thread as drawn: its messages (future ones too), its incident."""
        if not any(self.gen.talked_about(index, self.gen.spec.claim_rate)):
            return [], None
        return self.gen.thread(self.gen.order(index))

    def order_messages(self, index: int) -> list[MessageFacts]:
        """Order ``index``'s messages (future ones too), whether or not the shop's history
        was made concrete up to it: an orders listing makes none of it concrete (a deep
        page of a 50,000-order shop costs its 100 orders, not the shop's history)."""
        written = [m.facts for m in self.by_order.get(index, [])]
        return written if index < self._orders_done else self._thread(index)[0] + written

    def offer_question_drawn(self, index: int) -> None:
        self._add_messages(self.gen.offer_question(index))

    def _add_messages(self, messages: Iterable[MessageFacts]) -> None:
        for facts in messages:
            record = self.messages[facts.message_id] = MessageRecord(facts)
            self.files.update((f.file_id, (f, facts.created)) for f in facts.files)
            if facts.order_index is not None:
                self.by_order.setdefault(facts.order_index, []).append(record)
        self._sorted = None

    def by_creation(self) -> list[MessageRecord]:
        if self._sorted is None:
            self._sorted = sorted(self.messages.values(), key=lambda m: m.facts.created)
        return self._sorted

    # --- orders -----------------------------------------------------------------------

    def find_order(self, order_id: str, virtual_now: float) -> OrderFacts | None:
        """The order ``order_id`` if placed by ``virtual_now``."""
        index = self.gen.index_of(order_id)
        if index is None or self.gen.purchase_time(index) > virtual_now:
            return None
        return self.gen.order(index)

    # --- incidents ----------------------------------------------------------------------

    def waiting_for_seller(self, incident: IncidentRecord, virtual_now: float) -> bool:
        if not incident.is_open(virtual_now):
            return False
        return not any(
            m.facts.from_type == "SELLER"
            and incident.facts.opened <= m.facts.created <= virtual_now
            for m in self.by_order.get(incident.facts.order_index, [])
        )

    # --- the seller's messages -------------------------------------------------------------

    def send(
        self,
        *,
        original: MessageRecord,
        message_to: str,
        subject: str,
        description: str,
        real_now: float,
    ) -> MessageRecord:
        """The seller's reply to ``original``, on its thread."""
        virtual_now = self.virtual(real_now)
        was = original.facts
        message_id = uuid_from(self.gen.seed, self.shop_id, "sent", len(self.sent), real_now)
        shown, created = self.reply_faults.show(description), self.reply_faults.date(virtual_now)
        facts = self.gen.seller_message(was, message_id, subject, shown, created)
        self._add_messages([facts])
        original.read = True
        original.answer = description
        original.answered = original.updated = virtual_now
        self.sent.append(
            SentMessage(
                message_id=message_id,
                action="reply",
                in_reply_to=was.message_id,
                referer_type=was.referer_type,
                referer=was.referer,
                message_to=message_to,
                subject=subject,
                description=description,
                created_at=real_now,
            )
        )
        return self.messages[message_id]

    # --- what buyers and Fnac's customer service do on demand (admin endpoints) --------

    def latest_order(self, real_now: float, *, untouched: bool = False) -> OrderFacts | None:
        """The latest order placed with no incident, so that what is written about it goes
        to the buyer whichever incidents were opened before; ``untouched``: the latest of
        those nobody has written about yet if there is one, so that a new conversation
        starts on a thread of its own (None: no such order)."""
        virtual_now = self.reached(real_now)
        placed = self.gen.placed_before(virtual_now)
        free = [i for i in range(placed - 1, -1, -1) if i not in self.incidents]
        quiet = [i for i in free if i not in self.by_order] if untouched else []
        index = next(iter(quiet or free), None)
        return None if index is None else self.gen.order(index)

    def write(
        self,
        order: OrderFacts,
        from_type: str,
        subject: str,
        description: str,
        real_now: float,
        files: tuple[tuple[str, str, int, str | None], ...] = (),
    ) -> MessageRecord:
        """A message about an order written now (``generator.order_message``), linking
        ``files`` (name, MIME type, size, a url listed instead of the double's own or None)."""
        message_id = uuid_from(self.gen.seed, self.shop_id, "written", len(self.messages), real_now)
        linked = tuple(
            FileFacts(
                file_id=uuid_from(self.gen.seed, message_id, "file", i),
                name=name,
                filetype=filetype,
                size=size,
                url=url,
            )
            for i, (name, filetype, size, url) in enumerate(files)
        )
        at = self.virtual(real_now)
        self._add_messages(
            [self.gen.order_message(order, message_id, from_type, subject, description, at, linked)]
        )
        return self.messages[message_id]

    def file(self, file_id: str, real_now: float) -> FileFacts | None:
        """A linked file of a message written by now, or None."""
        virtual_now = self.reached(real_now)
        file, created = self.files.get(file_id.upper(), (None, math.inf))
        return file if created <= virtual_now else None

    def open_incident(
        self, order: OrderFacts, type_code: str, real_now: float
    ) -> tuple[str, str] | None:
        """The buyer opens an incident on every line now; (incident id, message id), or None
        if the order has one already. Like every incident, it also appears as a message."""
        now = self.reached(real_now)
        if order.index in self.incidents:
            return None
        facts = self.gen.incident(order, type_code, order.lines, now)
        self.incidents[order.index] = IncidentRecord(facts)
        message = self.write(order, "CLIENT", NEW_CLAIM_SUBJECT, facts.message, real_now)
        return facts.incident_id, message.facts.message_id

    def close_incident(self, order: OrderFacts, real_now: float) -> str | None:
        """Fnac's customer service closes the order's open incident now; its id, or None if
        the order has no open incident."""
        now = self.reached(real_now)
        incident = self.incidents.get(order.index)
        if incident is None or not incident.is_open(now):
            return None
        incident.closed, incident.closed_status = now, "3"
        return incident.facts.incident_id

    # --- the clock ---------------------------------------------------------------------------

    def advance(self, seconds: float, real_now: float) -> dict[str, object]:
        before, after = self.advanced(seconds, real_now)
        return advance_summary(
            ("shopId", self.shop_id),
            seconds,
            new_order_ids=[self.gen.order_id(i) for i in self.placed_between(before, after)],
            new_message_ids=[
                m.facts.message_id for m in self.by_creation() if before < m.facts.created <= after
            ],
            new_incident_ids=[
                i.facts.incident_id
                for i in self.incidents.values()
                if before < i.facts.opened <= after
            ],
        )
