"""A seller's reply read by a relay double, refusals on demand, a relay's bounded memory,
the RFC 3464 report of a reply it refuses in its marketplace's words, its SMTP hooks, where
its bounces go, its mails to a seller's MX (docs/SANDBOX.md, the double kit)."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.utils import format_datetime, formatdate, getaddresses, make_msgid, parseaddr
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

import aiosmtplib
import msgspec
from aiosmtpd.smtp import SMTP, Envelope, Session

from keybuzz_sandbox.double_kit.admin import settings_handlers
from keybuzz_sandbox.double_kit.bounces import Bounces, send_bounce
from keybuzz_sandbox.faults import NextCount
from keybuzz_sandbox.smtp_servers import serving_relay

MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Multipart structures a reader cannot split into parts: refused at DATA.
BROKEN_MIME = ("NoBoundaryInMultipartDefect", "StartBoundaryNotFoundDefect")
FAULT_REFUSALS_KEPT = 1_000
REFUSED_KEPT = 1_000  # refused replies a relay lists, the oldest dropped first
PASSED_KEPT = 200  # replies a relay keeps per alias, the oldest dropped first
ALIASES_KEPT = 10_000  # aliases whose replies it keeps, the least recently written dropped first


def now_iso() -> str:
    """The real time, ISO 8601 with milliseconds (as relays stamp what they take)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Attachment(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    filename: str
    content_type: str
    size: int  # decoded bytes


class MalformedMail(ValueError):
    """The message cannot be read as a reply (refused at DATA, not bounced)."""


class ReplyMail(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    in_reply_to: str | None
    references: list[str]
    sender: str  # the header From's address, as written
    subject: str
    text: str
    attachments: list[Attachment]
    header_block: str  # the message's headers as received, for the bounce

    @property
    def thread_ids(self) -> list[str]:
        return ([self.in_reply_to] if self.in_reply_to else []) + self.references


class PassedReply(msgspec.Struct, kw_only=True, rename="camel"):
    """A reply as a relay passed it on: its buyer's view (no header block)."""

    message_id: str
    in_reply_to: str | None
    references: list[str]
    sender: str = msgspec.field(name="from")
    subject: str
    text: str
    attachments: list[Attachment]
    received_at: str = msgspec.field(default_factory=now_iso)

    @classmethod
    def of(cls, reply: ReplyMail, **more: Any) -> Self:
        """``reply`` passed on now, with what a relay's own kind adds (``more``)."""
        read = msgspec.structs.asdict(reply)
        del read["header_block"]  # a bounce's, not the buyer's
        return cls(**read, **more)


def parse_reply(raw: bytes) -> ReplyMail:
    """Read a reply's headers, text and attachments; blocking, run in a thread."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise MalformedMail("message has no headers")
    broken = [d for part in message.walk() for d in part.defects]
    broken = [d for d in broken if type(d).__name__ in BROKEN_MIME]
    if broken:
        raise MalformedMail(f"malformed MIME structure ({type(broken[0]).__name__})")
    return ReplyMail(
        message_id=_first_id(message.get("Message-ID")) or f"<{uuid.uuid4().hex}@relay.sandbox>",
        in_reply_to=_first_id(message.get("In-Reply-To")),
        references=MESSAGE_ID.findall(str(message.get("References", ""))),
        sender=_single_sender(message),
        subject=str(message.get("Subject", "")),
        text=_text_of(message),
        attachments=list(_attachments(message)),
        header_block=_header_block(raw),
    )


def _first_id(value: object) -> str | None:
    found = MESSAGE_ID.findall(str(value)) if value is not None else []
    return found[0] if found else None


def _single_sender(message: EmailMessage) -> str:
    raw = message.get_all("From") or []
    if len(raw) != 1:
        raise MalformedMail("message must have exactly one From header")
    addresses = [a for _, a in getaddresses([str(raw[0])]) if a]
    if len(addresses) != 1 or "@" not in addresses[0]:
        raise MalformedMail("From header must hold exactly one address")
    return addresses[0]


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, ValueError) as exc:  # unknown charset, broken encoding
        raise MalformedMail(f"text part cannot be decoded: {exc}") from exc


def _attachments(message: EmailMessage) -> Iterator[Attachment]:
    for part in message.walk():
        if part.is_multipart() or not _is_attachment(part, message):
            continue
        payload = part.get_payload(decode=True)
        content_type = part.get_content_type()
        filename = part.get_filename() or f"unnamed{mimetypes.guess_extension(content_type) or ''}"
        yield Attachment(
            filename=filename,
            content_type=content_type,
            size=len(payload) if isinstance(payload, bytes) else 0,
        )


def _is_attachment(part: Message, message: EmailMessage) -> bool:
    """Named or declared attachments, and any non-text leaf that is not the body."""
    if part.get_filename() or part.get_content_disposition() == "attachment":
        return True
    return part is not message.get_body() and part.get_content_maintype() != "text"


def _header_block(raw: bytes) -> str:
    end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=len(raw))
    return raw[:end].decode("utf-8", "replace").replace("\r\n", "\n")


# --- refusals on demand ---------------------------------------------------------------

# One SMTP reply line with a 4xx or 5xx code.
SmtpRefusal = Annotated[str, msgspec.Meta(pattern=r"\A[45]\d\d [^\r\n]{1,200}\Z")]


class RelayFaults(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The next ``refuse_next`` transactions are answered ``reply`` at ``stage`` (a relay
    double's admin ``PUT …/faults`` body)."""

    refuse_next: NextCount = 0
    # "rcpt": at RCPT TO; "data": after the message, instead of 250.
    stage: Literal["rcpt", "data"] = "rcpt"
    reply: SmtpRefusal = "451 4.7.1 Greylisted: please try again later"
    to: str | None = None  # only transactions to this recipient count; None: any


class FaultRefusal(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    at: str  # when, ISO 8601 with milliseconds
    stage: str
    to: str
    reply: str


class RefusalsOnDemand:
    """The relay's ``RelayFaults`` and the refusals they made since they were set."""

    def __init__(self) -> None:
        self.faults = RelayFaults()
        self.made: deque[FaultRefusal] = deque(maxlen=FAULT_REFUSALS_KEPT)

    def set(self, faults: RelayFaults) -> None:
        self.faults = faults
        self.made.clear()

    def view(self) -> dict[str, Any]:
        """What is still to be refused, and what was (``refusals``)."""
        return {**msgspec.to_builtins(self.faults), "refusals": list(self.made)}

    def due(self, stage: str, to: str) -> str | None:
        """The refusal this transaction gets, if one is due (and counts it)."""
        f = self.faults
        if f.refuse_next <= 0 or f.stage != stage or (f.to and f.to.lower() != to.lower()):
            return None
        f.refuse_next -= 1
        self.made.append(FaultRefusal(at=now_iso(), stage=stage, to=to.lower(), reply=f.reply))
        return f.reply


# --- what a relay remembers -------------------------------------------------------------

V = TypeVar("V")


class Recent(Generic[V]):
    """The last ``limit`` values written, by key (the least recently written dropped first):
    a relay's memory of its mails and inboxes, bounded."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._values: OrderedDict[str, V] = OrderedDict()

    def put(self, key: str, value: V) -> V:
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self._limit:
            self._values.popitem(last=False)
        return value

    def get(self, key: str) -> V | None:
        return self._values.get(key)


# --- bounces ----------------------------------------------------------------------------


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """Why a relay bounces a reply it took, in its marketplace's words."""

    reason: str  # as the relay's admin lists it
    status: str  # RFC 3463 enhanced status code of the bounce
    diagnostic: str  # the bounce's Diagnostic-Code, after "smtp; "
    explanation: str  # the sentence the seller reads in the bounce


class Mailer(msgspec.Struct, frozen=True, kw_only=True):
    """A relay's mailer-daemon as its bounces name it."""

    sender: str  # the From, mailer-daemon's address (the Message-ID's domain is its)
    subject: str
    mta: str  # the Reporting-MTA
    # What the text says after the refusal's sentence: ``{alias}``, ``{subject}`` and
    # ``{message_id}`` are the refused reply's.
    footer: str
    references: bool = False  # the refused Message-ID in References too


def bounce_report(
    reply: ReplyMail, alias: str, refusal: Refusal, mailer: Mailer, to: str
) -> MIMEMultipart:
    """The report ``mailer`` sends ``to`` (the reply's envelope sender): ``reply`` to
    ``alias`` refused for ``refusal``."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = mailer.sender
    report["To"] = to
    report["Subject"] = mailer.subject
    report["Date"] = formatdate(usegmt=True)
    report["Message-ID"] = make_msgid(domain=parseaddr(mailer.sender)[1].rsplit("@", 1)[-1])
    report["Auto-Submitted"] = "auto-replied"
    report["In-Reply-To"] = reply.message_id
    if mailer.references:
        report["References"] = reply.message_id
    footer = mailer.footer.format(alias=alias, subject=reply.subject, message_id=reply.message_id)
    report.attach(MIMEText(f"{refusal.explanation}\n\n{footer}", "plain", "utf-8"))
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = f"dns; {mailer.mta}"
    per_message["Arrival-Date"] = format_datetime(datetime.now(UTC))
    per_recipient["Final-Recipient"] = f"rfc822; {alias}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = refusal.status
    per_recipient["Diagnostic-Code"] = f"smtp; {refusal.diagnostic}"
    status = MIMEBase("message", "delivery-status")
    status.set_payload([per_message, per_recipient])
    report.attach(status)
    charset = "us-ascii" if reply.header_block.isascii() else "utf-8"
    report.attach(MIMEText(reply.header_block, "rfc822-headers", charset))
    return report


# --- the SMTP hooks ----------------------------------------------------------------------


class RefusedReply(msgspec.Struct, kw_only=True, rename="camel"):
    """A reply a relay refused, as its admin lists it; a message that could not be read has
    only its reason and time."""

    message_id: str | None = None
    reason: str
    status: str | None = None
    bounced_to: str | None = None  # the envelope sender; None: no bounce (null sender, bad input)
    bounce: str = "none"  # "pending", "sent", "failed" (MX unreachable after retries) or "none"
    alias: str | None = None
    received_at: str = msgspec.field(default_factory=now_iso)


class RelayHandler:
    """aiosmtpd's hooks as every relay double answers them: RCPT takes an address its
    ``recipient_refusal`` lets through, unless a refusal on demand is due; DATA, unless one
    is due there, reads the reply (one that cannot be read: 554, listed in ``refused``),
    answers 250 and gives it to ``take`` for each recipient with the envelope sender its
    bounce would go to ("" for a null sender: no bounce). What it passes on is kept by alias
    (``passed_to``); its bounces go to ``bounce_target`` (a host and a port, in the relay's
    admin's own struct), its settings' MX until the admin moves it."""

    accepted = "250 2.0.0 OK: message accepted"
    refused_as: type[RefusedReply] = RefusedReply  # a relay's may list more of a refusal
    hostname, ident = "relay.sandbox", "KeyBuzz sandbox relay"  # its greeting's words
    drain_seconds = 0.0  # what bounces under way are given when it stops
    # The SMTP SIZE limit: far enough above 10 MB of base64-encoded attachments that an
    # oversized message is taken and bounced, as marketplaces do, not refused at DATA.
    max_bytes = 32 * 1024 * 1024

    def __init__(self, bounce_target: msgspec.Struct) -> None:
        self.bounce_target = bounce_target
        self.refused: deque[RefusedReply] = deque(maxlen=REFUSED_KEPT)
        self.on_demand = RefusalsOnDemand()  # set by the relay's admin (``RelayFaults``)
        self.bounces = Bounces()
        self._passed: Recent[deque[PassedReply]] = Recent(ALIASES_KEPT)

    def pass_on(self, alias: str, reply: PassedReply) -> None:
        """``reply`` on the alias's thread (no de-duplication: one sent twice shows twice)."""
        thread = self._passed.get(alias) or deque(maxlen=PASSED_KEPT)
        thread.append(reply)
        self._passed.put(alias, thread)

    def passed_to(self, alias: str) -> list[PassedReply]:
        """What reached ``alias``'s thread, oldest first."""
        return list(self._passed.get(alias.lower()) or ())

    def serving(self, relay: Any) -> contextlib.AbstractAsyncContextManager[None]:
        """Its SMTP server while the application runs, on ``relay``'s settings
        (``smtp_servers.serving_relay``)."""
        return serving_relay(
            relay,
            self,
            hostname=self.hostname,
            ident=self.ident,
            max_bytes=self.max_bytes,
            stopping=lambda: self.bounces.drain(self.drain_seconds),
        )

    async def recipient_refusal(self, address: str) -> str | None:
        """The RCPT reply refusing ``address``, None for one the relay takes."""
        raise NotImplementedError

    async def take(self, reply: ReplyMail, alias: str, bounce_to: str) -> None:
        raise NotImplementedError

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = await self.recipient_refusal(address) or self.on_demand.due("rcpt", address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address.lower())
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        refusal = self.on_demand.due("data", envelope.rcpt_tos[0])
        if refusal is not None:
            return refusal  # nothing delivered, nothing bounced: the client tries again
        try:
            reply = await asyncio.to_thread(parse_reply, envelope.original_content or b"")
        except MalformedMail as exc:
            self.refused.append(self.refused_as(reason=f"malformed: {exc}"))
            return f"554 5.6.0 Message refused: {exc}"
        bounce_to = "" if envelope.mail_from in (None, "", "<>") else str(envelope.mail_from)
        for alias in envelope.rcpt_tos:
            await self.take(reply, alias, bounce_to)
        return self.accepted

    def refuse(
        self,
        reply: ReplyMail,
        alias: str,
        refusal: Refusal,
        mailer: Mailer,
        bounce_to: str,
        **listed: str,
    ) -> None:
        """``reply`` to ``alias`` listed as refused (with what ``listed`` adds) and bounced
        from ``mailer`` to ``bounce_to`` (not for a null sender), the bounce's fate listed."""
        record = self.refused_as(
            message_id=reply.message_id,
            reason=refusal.reason,
            status=refusal.status,
            bounced_to=bounce_to or None,
            bounce="pending" if bounce_to else "none",
            alias=alias,
            **listed,
        )
        self.refused.append(record)
        if bounce_to:
            report = bounce_report(reply, alias, refusal, mailer, bounce_to)
            self.bounces.start(self._bounced(record, report, bounce_to))

    def _target(self) -> tuple[str, int]:
        """Where bounces go, asked at each attempt: the admin may move it meanwhile."""
        host, port = msgspec.structs.astuple(self.bounce_target)
        return host, port

    async def _bounced(self, record: RefusedReply, report: MIMEMultipart, to: str) -> None:
        record.bounce = "sent" if await send_bounce(report, to, self._target) else "failed"


def bounce_target_handlers(path: str, relay: RelayHandler) -> list[Any]:
    """GET and PUT ``path``: where ``relay``'s bounces go, a body of its ``bounce_target``'s
    struct (``admin.settings_handlers``' first two: a target has no default to go back to)."""

    def move(target: Any) -> None:
        relay.bounce_target = target

    kind, current = type(relay.bounce_target), lambda: relay.bounce_target
    return settings_handlers(path, kind, current, move)[:2]


async def to_mx(mails: list[tuple[str, bytes]], to: str, mx: tuple[str, int]) -> None:
    """A relay's ``mails`` (each its envelope sender and its bytes) to a seller's inbound
    address ``to``, in one SMTP session with the MX at ``mx``."""
    host, port = mx
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=30) as smtp:
        for sender, mail in mails:
            await smtp.sendmail(sender, [to], mail)
