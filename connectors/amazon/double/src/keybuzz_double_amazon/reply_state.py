"""What the reply relay knows and keeps, in memory and bounded: buyers, inboxes, refused
replies; apart from the double (double.py) and the relay (reply_relay.py), which both use it."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from typing import Annotated, Any, Literal

import msgspec
from keybuzz_sandbox.faults import NextCount

from .order_book import OrderBook

INBOX_LIMIT = 200  # messages kept per buyer (oldest dropped first)
INBOXES_LIMIT = 10_000  # buyers with an inbox (least recently written dropped first)
REFUSED_LIMIT = 1_000


# --- who the buyers are --------------------------------------------------------------


class Buyer(msgspec.Struct, frozen=True, kw_only=True):
    alias: str  # lower case
    seller_id: str  # Amazon gives a buyer one alias per seller
    order_id: str


class SeededBuyers:
    """Alias -> buyer for every seeded order placed so far, indexed on first need.

    Indexing computes each order's facts (~0.07 ms an order): done in a worker
    thread, extended only by the orders placed since the last lookup.
    """

    def __init__(self, sellers: dict[str, OrderBook]) -> None:
        self._sellers = sellers
        self._index: dict[str, Buyer] = {}
        self._indexed: dict[str, int] = {}
        self._lock: asyncio.Lock | None = None

    async def find(self, alias: str, real_now: float) -> Buyer | None:
        alias = alias.lower()
        if alias not in self._index:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                await asyncio.to_thread(self._extend, real_now)
        return self._index.get(alias)

    def _extend(self, real_now: float) -> None:
        for seller_id, book in self._sellers.items():
            placed = book.count(real_now)
            for index in range(self._indexed.get(seller_id, 0), placed):
                facts = book.gen.facts(index)
                alias = facts.buyer_email.lower()
                self._index[alias] = Buyer(
                    alias=alias, seller_id=seller_id, order_id=facts.order_id
                )
            self._indexed[seller_id] = max(placed, self._indexed.get(seller_id, 0))


# --- what the buyer received, what was refused ----------------------------------------


class Attachment(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    filename: str
    content_type: str
    size: int  # decoded bytes


class InboxMessage(msgspec.Struct, kw_only=True, rename="camel"):
    message_id: str
    in_reply_to: str | None
    references: list[str]
    sender: str = msgspec.field(name="from")
    subject: str
    text: str
    attachments: list[Attachment]
    received_at: str
    seller_id: str
    order_id: str | None


class RefusedReply(msgspec.Struct, kw_only=True, rename="camel"):
    """A refused reply; a message that could not be read has only its reason and time."""

    message_id: str | None = None
    reason: str
    status: str | None = None
    bounced_to: str | None = None  # the envelope sender; None: no bounce (null sender, bad input)
    bounce: str = "none"  # "pending", "sent", "failed" (MX unreachable after retries) or "none"
    alias: str | None = None
    seller_id: str | None = None
    received_at: str


# --- refusals on demand ---------------------------------------------------------------

# One SMTP reply line with a 4xx or 5xx code.
SmtpRefusal = Annotated[str, msgspec.Meta(pattern=r"\A[45]\d\d [^\r\n]{1,200}\Z")]


class RelayFaults(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of PUT /_sandbox/replies/faults: the next ``refuse_next`` transactions are
    answered ``reply`` at ``stage`` (greylisting, a relay shutting down, a 5xx)."""

    refuse_next: NextCount = 0
    # "rcpt": at RCPT TO; "data": after the message, instead of 250.
    stage: Literal["rcpt", "data"] = "rcpt"
    reply: SmtpRefusal = "451 4.7.1 Greylisted: please try again later"
    to: str | None = None  # only transactions to this buyer alias count; None: any


class FaultRefusal(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    at: str  # when, ISO 8601 with milliseconds
    stage: str
    to: str
    reply: str


class ReplyBook:
    """Buyers' inboxes and refused replies, in memory and bounded."""

    def __init__(self) -> None:
        self._inboxes: OrderedDict[str, deque[InboxMessage]] = OrderedDict()
        self.refused: deque[RefusedReply] = deque(maxlen=REFUSED_LIMIT)
        self.faults = RelayFaults()
        self.fault_refusals: deque[FaultRefusal] = deque(maxlen=REFUSED_LIMIT)

    def set_faults(self, faults: RelayFaults) -> None:
        self.faults = faults
        self.fault_refusals.clear()

    def faults_view(self) -> dict[str, Any]:
        """GET /_sandbox/replies/faults: what is still to be refused, and what was."""
        return {**msgspec.to_builtins(self.faults), "refusals": list(self.fault_refusals)}

    def fault_for(self, stage: str, to: str, now: str) -> str | None:
        """The refusal this transaction gets, if one is due (and counts it)."""
        f = self.faults
        if f.refuse_next <= 0 or f.stage != stage or (f.to and f.to.lower() != to.lower()):
            return None
        f.refuse_next -= 1
        self.fault_refusals.append(FaultRefusal(at=now, stage=stage, to=to.lower(), reply=f.reply))
        return f.reply

    def deliver(self, alias: str, message: InboxMessage) -> None:
        inbox = self._inboxes.setdefault(alias.lower(), deque(maxlen=INBOX_LIMIT))
        inbox.append(message)  # no de-duplication: a message sent twice shows twice
        self._inboxes.move_to_end(alias.lower())
        while len(self._inboxes) > INBOXES_LIMIT:
            self._inboxes.popitem(last=False)

    def inbox(self, alias: str) -> list[InboxMessage]:
        return list(self._inboxes.get(alias.lower(), ()))
