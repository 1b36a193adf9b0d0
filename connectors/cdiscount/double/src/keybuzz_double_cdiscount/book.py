"""One shop's state: its discussions as buyers, Octopia's customer care and the seller left
them (read, answered, closed, become claims), made concrete as ``DrawnShop`` says, its
orders (computed on demand), and the queries over them."""

from __future__ import annotations

import msgspec
from keybuzz_sandbox.clock import SellerTimeline
from keybuzz_sandbox.double_kit.admin import advance_summary
from keybuzz_sandbox.double_kit.books import DrawnShop
from keybuzz_sandbox.double_kit.draws import file_bytes, numeric_id

from .generator import (
    CLAIMS,
    CUSTOMER,
    GRC,
    SELLER,
    AttachmentFacts,
    DiscussionFacts,
    MessageFacts,
    OrderFacts,
    ShopGenerator,
    index_of,
)
from .shops import Credentials


class MessageRecord:
    __slots__ = ("facts", "read")

    def __init__(self, facts: MessageFacts, read: bool) -> None:
        self.facts = facts
        self.read = read


class DiscussionRecord:
    """A discussion as it stands; times virtual."""

    def __init__(self, facts: DiscussionFacts) -> None:
        self.facts = facts
        answered = [m.created for m in facts.messages if m.sender_type == SELLER]
        self.messages = [
            MessageRecord(m, m.sender_type == SELLER or any(a > m.created for a in answered))
            for m in facts.messages
        ]
        self.graduations = list(facts.graduations)
        # (virtual time, open or not) of each close/reopen, the seeded closing first.
        self.openings: list[tuple[float, bool]] = []
        if facts.closed_at is not None:
            self.openings.append((facts.closed_at, False))

    @property
    def discussion_id(self) -> str:
        return self.facts.discussion_id

    def visible(self, now: float) -> list[MessageRecord]:
        return [m for m in self.messages if m.facts.created <= now]

    def graduation(self, now: float) -> str:
        return max((g for g in self.graduations if g[0] <= now), default=self.graduations[0])[1]

    def is_open(self, now: float) -> bool:
        past = [o for o in self.openings if o[0] <= now]
        return past[-1][1] if past else True

    def updated(self, now: float) -> float:
        times = [m.facts.created for m in self.visible(now)]
        times += [t for t, _ in self.graduations if t <= now]
        times += [t for t, _ in self.openings if t <= now]
        return max(times)

    def eligible(self, now: float, grc_id: str) -> list[tuple[str, str]]:
        """Whom the seller's next reply may go to: the buyer; Octopia's customer care too
        (``grc_id`` unless one of them wrote) once the discussion is a claim or customer
        care has written in it."""
        receivers = [(self.facts.customer_id, CUSTOMER)]
        grc = next((m for m in self.visible(now) if m.facts.sender_type == GRC), None)
        if grc is not None:
            receivers.append((grc.facts.sender_id, GRC))
        elif self.graduation(now) in CLAIMS:
            receivers.append((grc_id, GRC))
        return receivers


class SentMessage(msgspec.Struct, kw_only=True, rename="camel"):
    """What the seller sent (GET /_sandbox/cdiscount/shops/{sellerId}/sent)."""

    message_id: str
    discussion_id: str
    sales_channel: str
    receivers: list[dict[str, str]]
    body: str
    attachments: list[dict[str, str | int]]  # name, fileFormat, size
    created_at: float  # real epoch seconds


class ShopBook(DrawnShop[ShopGenerator, Credentials]):
    def __init__(
        self, gen: ShopGenerator, timeline: SellerTimeline, credentials: Credentials
    ) -> None:
        super().__init__(gen, timeline, credentials)
        self.discussions: dict[str, DiscussionRecord] = {}
        self.messages: dict[str, tuple[DiscussionRecord, MessageRecord]] = {}
        # attachment id -> its facts, its message's time (virtual) and the bytes a seller sent
        self.attachments: dict[str, tuple[AttachmentFacts, float, bytes | None]] = {}
        self.sent: list[SentMessage] = []

    @property
    def seller_id(self) -> str:
        return self.credentials.seller_id

    # --- discussions ------------------------------------------------------------------

    def order_drawn(self, index: int) -> None:
        if any(self.gen.talked_about(index, self.gen.spec.claim_rate)):
            for facts in self.gen.order_discussions(index):
                self._add(facts)

    def offer_question_drawn(self, index: int) -> None:
        self._add(self.gen.offer_discussion(index))

    def _add(self, facts: DiscussionFacts) -> DiscussionRecord:
        record = self.discussions[facts.discussion_id] = DiscussionRecord(facts)
        for message in record.messages:
            self._index(record, message)
        return record

    def _index(
        self, record: DiscussionRecord, message: MessageRecord, contents: tuple[bytes, ...] = ()
    ) -> None:
        self.messages[message.facts.message_id] = (record, message)
        for n, attachment in enumerate(message.facts.attachments):
            content = contents[n] if n < len(contents) else None
            self.attachments[attachment.attachment_id] = (
                attachment,
                message.facts.created,
                content,
            )

    def attachment(self, attachment_id: str, now: float) -> tuple[AttachmentFacts, bytes] | None:
        """An attachment of a message written by ``now``, with its bytes (made up from its id
        unless the seller sent them)."""
        self.materialize(now)
        found = self.attachments.get(attachment_id)
        if found is None or found[1] > now:
            return None
        facts, _, content = found
        if content is None:  # a seeded file: made from its id
            content = file_bytes(facts.attachment_id, facts.name, facts.size)
        return facts, content

    def shown(self, now: float) -> list[DiscussionRecord]:
        """The discussions opened by ``now``."""
        self.materialize(now)
        return [d for d in self.discussions.values() if d.facts.opened <= now]

    def discussion(self, discussion_id: str, now: float) -> DiscussionRecord | None:
        self.materialize(now)
        record = self.discussions.get(discussion_id)
        return record if record is not None and record.facts.opened <= now else None

    def message(self, message_id: str, now: float) -> MessageRecord | None:
        self.materialize(now)
        found = self.messages.get(message_id)
        return found[1] if found is not None and found[1].facts.created <= now else None

    def add_message(
        self,
        record: DiscussionRecord,
        sender_type: str,
        body: str,
        now: float,
        receivers: tuple[tuple[str, str], ...],
        attachments: tuple[AttachmentFacts, ...] = (),
        contents: tuple[bytes, ...] = (),
    ) -> MessageRecord:
        """A message written now in ``record`` by the seller, the buyer or customer care
        (``contents``: the bytes of its attachments, if known)."""
        sender_id = {SELLER: self.seller_id, GRC: self.gen.grc_id}.get(
            sender_type, record.facts.customer_id
        )
        serial = len(self.messages)
        facts = MessageFacts(
            message_id=numeric_id(self.gen.seed, self.seller_id, "written", serial, now),
            sender_type=sender_type,
            sender_id=sender_id,
            receivers=receivers,
            body=body,
            created=now,
            attachments=attachments,
        )
        message = MessageRecord(facts, read=sender_type == SELLER)
        record.messages.append(message)
        self._index(record, message, contents)
        if sender_type == SELLER:  # answering reads what came before
            for earlier in record.messages:
                earlier.read = earlier.read or earlier.facts.created <= now
        return message

    def open_discussion(
        self, order: OrderFacts, sub_typology: str, body: str, graduation: str, now: float
    ) -> DiscussionRecord:
        """A buyer opens a discussion about ``order`` now."""
        customer_id = self.gen.customer(order.index)[0]
        serial = len(self.discussions)
        first = self.gen.message(
            order.index, f"opened-{serial}-{now}", 0, CUSTOMER, customer_id, body, now
        )
        discussion_id = numeric_id(self.gen.seed, self.seller_id, "opened", serial, now, digits=9)
        facts = self.gen.about_order(
            discussion_id, order, sub_typology, [first], [(now, graduation)]
        )
        return self._add(facts)

    # --- orders -----------------------------------------------------------------------

    def find_order(self, value: str, now: float) -> OrderFacts | None:
        index = index_of(value)
        if index is None or self.gen.purchase_time(index) > now:
            return None
        order = self.gen.order(index)
        return order if order.order_id == value else None

    def latest_order(self, now: float) -> OrderFacts | None:
        placed = self.gen.placed_before(now)
        return self.gen.order(placed - 1) if placed else None

    # --- time -------------------------------------------------------------------------

    def advance(self, seconds: float, real_now: float) -> dict[str, object]:
        known = {d.discussion_id for d in self.shown(self.virtual(real_now))}
        before, after = self.advanced(seconds, real_now)
        return advance_summary(
            ("sellerId", self.seller_id),
            seconds,
            new_order_ids=[self.gen.order(i).order_id for i in self.placed_between(before, after)],
            new_discussion_ids=[
                d.discussion_id for d in self.shown(after) if d.discussion_id not in known
            ],
        )
