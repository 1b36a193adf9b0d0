"""Amazon's Buyer-Seller Messaging relay (docs/SANDBOX.md, "Reply relay"): buyers' mails to a
seller's address, and the relay of sellers' replies on the kit's ``RelayHandler`` (its SMTP
server runs on the sandbox's event loop: handlers and admin endpoints share state without
locks)."""

from __future__ import annotations

import asyncio
import random
import re
import unicodedata
import uuid
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from importlib.resources import files
from typing import TYPE_CHECKING, Annotated

import msgspec
from keybuzz_sandbox.double_kit.replies import (
    Mailer,
    PassedReply,
    Recent,
    Refusal,
    RefusedReply,
    RelayHandler,
    ReplyMail,
)
from keybuzz_sandbox.smtp_servers import relay_listening

from .order_book import OrderBook, OrderState
from .seed import DAY, SellerSpec, language_of

if TYPE_CHECKING:
    from .double import AmazonDouble

RECENT_DAYS = 30  # buyers write about recent orders
RELAY_LOG_LIMIT = 10_000  # relay mails remembered for telling replies on a buyer's thread
SUPPORTED_EXTENSIONS = (".pdf", ".jpg", ".jpeg", ".png", ".gif", ".txt", ".doc", ".docx")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # decoded attachments of one message, in total
ORDER_ID = re.compile(r"\b\d{3}-\d{7}-\d{7}\b")
IMPORTANT = re.compile(r"\[important\]", re.IGNORECASE)  # anywhere, any case (Amazon's rule)


# --- the buyers ------------------------------------------------------------------------


class Buyer(msgspec.Struct, frozen=True, kw_only=True):
    alias: str  # lower case
    seller_id: str  # Amazon gives a buyer one alias per seller
    order_id: str


class SeededBuyers:
    """Alias -> buyer for every seeded order placed so far, indexed on first need in a worker
    thread (~0.07 ms an order), extended only by the orders placed since the last lookup."""

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


class RelayLog:
    """The last RELAY_LOG_LIMIT relay mails sent, the buyer each was from, by Message-ID and
    by buyer alias."""

    def __init__(self, limit: int = RELAY_LOG_LIMIT) -> None:
        self.by_message_id: Recent[Buyer] = Recent(limit)
        self._by_alias: Recent[Buyer] = Recent(limit)

    def record(self, message_id: str, seller_id: str, alias: str, order_id: str) -> None:
        buyer = Buyer(alias=alias.lower(), seller_id=seller_id, order_id=order_id)
        self._by_alias.put(buyer.alias, self.by_message_id.put(message_id, buyer))

    def latest_for(self, alias: str) -> Buyer | None:
        return self._by_alias.get(alias.lower())


async def find_buyer(sb: AmazonDouble, alias: str) -> Buyer | None:
    """A buyer the sandbox wrote from (relay mails) or a seeded order's buyer."""
    sent = sb.relay_log.latest_for(alias)
    return sent if sent is not None else await sb.buyers.find(alias, sb.clock.now())


# --- buyers' mails ---------------------------------------------------------------------


class RelayRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    selling_partner_id: str
    to: str
    count: Annotated[int, msgspec.Meta(ge=1, le=500)] = 1
    order_ids: list[str] | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None


class SentMessage(msgspec.Struct, rename="camel"):
    order_id: str
    message_id: str
    subject: str
    sender: str
    to: str


def pick_orders(book: OrderBook, rng: random.Random, count: int, now: float) -> list[OrderState]:
    """Recent, not cancelled orders, chosen deterministically from the seed."""
    lo = book.count(now - RECENT_DAYS * DAY)
    hi = book.count(now)
    chosen: list[OrderState] = []
    for _ in range(count * 50):
        if len(chosen) == count or hi <= lo:
            break
        state = book.state(rng.randrange(lo, hi), now)
        if state is not None and state.status != "Canceled":
            chosen.append(state)
    return chosen


def compose(book: OrderBook, state: OrderState, rng: random.Random, to: str) -> EmailMessage:
    tpl = language_of(book.gen.marketplace).relay_mail
    facts = state.facts
    item = facts.items[0]
    first_name = facts.buyer_name.split()[0]
    body = (
        f"{tpl.begin}\n\n{rng.choice(tpl.texts)}\n\n{tpl.end}\n\n"
        f"{tpl.order_label} : {facts.order_id}\n{tpl.item_label} : {item.product.title}\n"
        f"ASIN : {item.product.asin}\n{tpl.quantity_label} : {item.quantity}\n\n{tpl.closing}\n"
    )
    message = EmailMessage()
    message["From"] = formataddr((f"{first_name} - Amazon Marketplace", facts.buyer_email))
    message["To"] = to
    message["Subject"] = tpl.subject.format(name=first_name, order_id=facts.order_id)
    message["Date"] = formatdate(usegmt=True)
    region = "eu-west-1" if book.gen.marketplace.region == "eu" else "us-east-1"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@{region}.amazonses.com>"
    message.set_content(body, cte="quoted-printable")
    return message


# --- sellers' replies ------------------------------------------------------------------


class BounceTarget(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Where the reply relay's bounces go (PUT /_sandbox/replies/bounce-target)."""

    smtp_host: Annotated[str, msgspec.Meta(min_length=1)]
    smtp_port: Annotated[int, msgspec.Meta(gt=0, lt=65536)]


class InboxMessage(PassedReply, kw_only=True):
    seller_id: str
    order_id: str | None


class BuyerRefusal(RefusedReply, kw_only=True):
    seller_id: str | None = None


def _refusals() -> dict[str, Refusal]:
    """Amazon's words for each refusal, by reason: data (reply_refusals.json)."""
    text = (files(__package__) / "reply_refusals.json").read_text(encoding="utf-8")
    formats = ", ".join(e.lstrip(".").upper() for e in SUPPORTED_EXTENSIONS)
    listed = msgspec.json.decode(text.replace("{formats}", formats), type=list[Refusal])
    return {refusal.reason: refusal for refusal in listed}


REFUSALS = _refusals()


def registered_email(spec: SellerSpec) -> str:
    """The seller account's registered address: a slug of its store name at example.com."""
    ascii_name = unicodedata.normalize("NFKD", spec.store_name).encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.decode("ascii").lower()).strip("-")
    return f"{slug}@example.com"


def refusal_for(
    sb: AmazonDouble, reply: ReplyMail, buyer: Buyer, on_thread: bool
) -> Refusal | None:
    """Why Amazon would refuse this reply, or None if it passes on to the buyer."""
    sender, seller_id = reply.sender.lower(), buyer.seller_id
    if sender in sb.senders(seller_id, blocked=True):
        return REFUSALS["sender-blocked"]
    registered = registered_email(sb.sellers[seller_id].gen.spec).lower()
    if sender != registered and sender not in sb.senders(seller_id, blocked=False):
        return REFUSALS["sender-not-approved"]
    if any(not a.filename.lower().endswith(SUPPORTED_EXTENSIONS) for a in reply.attachments):
        return REFUSALS["attachment-type"]
    if sum(a.size for a in reply.attachments) > MAX_ATTACHMENT_BYTES:
        return REFUSALS["attachments-too-large"]
    opted_out = buyer.alias in sb.kept.opted_out_buyers
    if opted_out and not on_thread and not IMPORTANT.search(reply.subject):
        return REFUSALS["buyer-opted-out"]
    return None


def thread_order(sb: AmazonDouble, reply: ReplyMail, buyer: Buyer) -> str | None:
    """The order of the buyer's relay mail this reply answers, if it answers one."""
    for message_id in reply.thread_ids:
        sent = sb.relay_log.by_message_id.get(message_id)
        if sent is not None and (sent.alias, sent.seller_id) == (buyer.alias, buyer.seller_id):
            return sent.order_id
    return None


def amazon_mailer(alias: str) -> Mailer:
    """Amazon's mailer-daemon at the marketplace of ``alias`` (…@marketplace.amazon.fr)."""
    domain = alias.rsplit("@", 1)[-1].removeprefix("marketplace.")
    return Mailer(
        sender=formataddr(("Amazon Seller Notifications", f"mailer-daemon@{domain}")),
        subject="Delivery Status Notification (Failure)",
        mta=f"relay.marketplace.{domain}",
        footer="To: {alias}\nSubject: {subject}\nMessage-ID: {message_id}\n",
        references=True,
    )


class ReplyHandler(RelayHandler):
    """RCPT checks the alias, DATA applies Amazon's rules; what passes lands in the buyer's
    inbox."""

    refused_as = BuyerRefusal
    hostname = "relay.marketplace.amazon.com"
    ident = "Amazon Buyer-Seller Messaging relay (KeyBuzz sandbox)"
    drain_seconds = 5.0

    def __init__(self, sb: AmazonDouble) -> None:
        super().__init__(BounceTarget(sb.settings.smtp_host, sb.settings.smtp_port))
        self._sb = sb

    async def recipient_refusal(self, address: str) -> str | None:
        if await find_buyer(self._sb, address) is None:
            return "550 5.1.1 Recipient address rejected: unknown buyer address"
        return None

    async def take(self, reply: ReplyMail, alias: str, bounce_to: str) -> None:
        sb = self._sb
        buyer = await find_buyer(sb, alias)
        if buyer is None:  # accepted at RCPT: cannot happen unless state was cleared
            return
        order_on_thread = thread_order(sb, reply, buyer)
        refusal = refusal_for(sb, reply, buyer, on_thread=order_on_thread is not None)
        if refusal is None:
            in_subject = ORDER_ID.search(reply.subject)
            order_id = order_on_thread or (in_subject[0] if in_subject else buyer.order_id)
            self.pass_on(
                alias, InboxMessage.of(reply, seller_id=buyer.seller_id, order_id=order_id)
            )
            return
        mailer = amazon_mailer(buyer.alias)
        self.refuse(reply, buyer.alias, refusal, mailer, bounce_to, seller_id=buyer.seller_id)


# Where it listens (the ``Double``'s ``reply_relay_at``).
listening_at = relay_listening("amazon")
