"""Amazon's relay for sellers' replies (docs/SANDBOX.md, "Reply relay"), on the kit's
``RelayHandler``. The SMTP server runs on the sandbox's event loop, so handlers and admin
endpoints share state without locks."""

from __future__ import annotations

import re
from email.utils import formataddr
from importlib.resources import files
from typing import TYPE_CHECKING, Annotated

import msgspec
from keybuzz_sandbox.double_kit.replies import (
    Mailer,
    PassedReply,
    Refusal,
    RefusedReply,
    RelayHandler,
    ReplyMail,
)
from keybuzz_sandbox.smtp_servers import relay_listening

from .seed import ORDER_ID

if TYPE_CHECKING:
    from .double import AmazonDouble

SUPPORTED_EXTENSIONS = (".pdf", ".jpg", ".jpeg", ".png", ".gif", ".txt", ".doc", ".docx")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # decoded attachments of one message, in total
IMPORTANT = re.compile(r"\[important\]", re.IGNORECASE)  # anywhere, any case (Amazon's rule)


class Buyer(msgspec.Struct, frozen=True, kw_only=True):
    alias: str  # lower case
    seller_id: str  # Amazon gives a buyer one alias per seller
    order_id: str


def find_buyer(sb: AmazonDouble, alias: str) -> Buyer | None:
    """The buyer of a seeded order placed so far (the alias says which: seed.py), those
    the sandbox's relay mails were from among them."""
    alias = alias.lower()
    for seller_id, book in sb.sellers.items():
        index = book.gen.buyer_index(alias)
        if index is not None and index < book.count(sb.clock.now()):
            return Buyer(alias=alias, seller_id=seller_id, order_id=book.gen.order_id(index))
    return None


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


def refusal_for(
    sb: AmazonDouble, reply: ReplyMail, buyer: Buyer, on_thread: bool
) -> Refusal | None:
    """Why Amazon would refuse this reply, or None if it passes on to the buyer."""
    sender, seller_id = reply.sender.lower(), buyer.seller_id
    if sender in sb.senders(seller_id, blocked=True):
        return REFUSALS["sender-blocked"]
    registered = sb.sellers[seller_id].gen.spec.registered_email.lower()
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
        if find_buyer(self._sb, address) is None:
            return "550 5.1.1 Recipient address rejected: unknown buyer address"
        return None

    async def take(self, reply: ReplyMail, alias: str, bounce_to: str) -> None:
        sb = self._sb
        buyer = find_buyer(sb, alias)
        if buyer is None:  # accepted at RCPT: cannot happen unless state was cleared
            return
        # On the thread of a relay mail from the buyer (an alias is one seller's)?
        answering = any(sb.relay_log.get(mid) == buyer.alias for mid in reply.thread_ids)
        refusal = refusal_for(sb, reply, buyer, on_thread=answering)
        if refusal is None:
            in_subject = ORDER_ID.search(reply.subject)
            order_id = in_subject[0] if in_subject and not answering else buyer.order_id
            self.pass_on(
                alias, InboxMessage.of(reply, seller_id=buyer.seller_id, order_id=order_id)
            )
            return
        mailer = amazon_mailer(buyer.alias)
        self.refuse(reply, buyer.alias, refusal, mailer, bounce_to, seller_id=buyer.seller_id)


# Where it listens (the ``Double``'s ``reply_relay_at``).
listening_at = relay_listening("amazon")
