"""A marketplace's buyer-seller relay mails → what the helpdesk needs. Pure: no I/O.

The marketplace and country come from the inbound address the MX received the mail for
(``X-KeyBuzz-Inbound-Address``, see ``inbound/mx.py``); that marketplace's relay
(``inbound/relays.py``, the connector's ``mail_relay``) says which sender is the buyer's
anonymised alias and which order ids the subject and body name. The buyer's words stand
between two marker lines (``------------- Begin message -------------`` /
``Début du message`` / ``Beginn der Nachricht`` …).

:func:`parse` never raises: a mail it cannot make sense of comes back with
``parse_error`` set and the raw mail kept, so nothing is dropped. The MIME tree,
header values and texts come from ``mime.py``; golden.json in the tests holds what
``policy.default`` makes of every test mail, and this parser must make the same
(test_parse_same_results.py).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.message import Message
from html.parser import HTMLParser

import msgspec
from keybuzz_shared.connectors.kit.signed_mail import doubled, field_counts
from keybuzz_shared.connectors.seam import MailRelay
from keybuzz_shared.own_words import split_quoted, tidy

from keybuzz_poller.inbound.addresses import (
    ACCEPTED_HEADER,
    DIGEST_HEADER,
    INBOUND_HEADER,
    parse_address,
)
from keybuzz_poller.inbound.relays import relay_for
from keybuzz_poller.reading.mime import (
    Headers,
    clean,
    filename,
    first_headers,
    header_addresses,
    header_date,
    header_text,
    part_bytes,
    part_text,
    read_message,
)

# "------------- Begin message -------------", in every language the relay writes.
MARKER = re.compile(r"^[ \t]*-{5,}[ \t]*[^-\s][^\n]*?[ \t]*-{5,}[ \t]*$", re.MULTILINE)
_BOUNDARY_VALUE = re.compile(rb'\s*=\s*"?([^";\r\n]+)')  # after the word "boundary"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Header fields a delivery puts on top (Dovecot's LMTP, the MX's stamps): they differ
# from one delivery of the same mail to the next, so the identity leaves them out.
_TRACE_FIELDS = re.compile(rb"^(return-path|delivered-to|received|x-keybuzz-[a-z-]+)\s*:", re.I)
_LINE_ENDING = re.compile(rb"\r\n|\n|\r(?!\n)")


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    filename: str
    content_type: str
    size: int
    content: bytes


class Bounce(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery failure report (RFC 3464) about a mail we sent: the relay refusing a reply."""

    # Message-IDs that may name the refused mail, best first: the one in the report's
    # rfc822-headers (or attached message) part, then In-Reply-To and References.
    refused_message_ids: list[str]
    reason: str  # the human explanation (the report's first, text part)
    status: str | None = None  # DSN status, e.g. 5.7.1
    diagnostic: str | None = None  # Diagnostic-Code, e.g. "smtp; 550 …"
    recipient: str | None = None  # Final-Recipient: the address the mail was for


class ParseBudget(msgspec.Struct, frozen=True, kw_only=True):
    """What one mail may cost: past it, the mail is flagged (``parse_error``), not parsed."""

    max_parts: int = 1000
    max_depth: int = 20
    max_seconds: float = 5.0  # enforced by the parse workers (parse_workers.py)


class OverBudget(Exception):
    """Raised by a budget check: the message says which limit."""


class RelayMail(msgspec.Struct, kw_only=True):
    raw: bytes  # the mail as delivered, always kept
    message_id: str | None = None
    subject: str = ""
    order_id: str | None = None
    buyer_email: str | None = None
    buyer_name: str | None = None
    text: str = ""  # the buyer's own words
    quoted: str = ""  # earlier messages quoted below them
    attachments: list[Attachment] = []
    inbound_address: str | None = None
    marketplace: str | None = None
    country: str | None = None
    sent_at: datetime | None = None
    parse_error: str | None = None
    bounce: Bounce | None = None  # a bounce (replies/bounces.py), not a buyer's mail
    received_digest: str | None = None  # the MX's digest of the mail as it received it
    accepted_at: datetime | None = None  # when the MX accepted it (None: another path)
    # Not a buyer message, as its headers claim (``is_automatic``); what counts of it is
    # what its marketplace signed (the relay's ``signed``). False when a field is doubled.
    automatic: bool = False
    from_address: str | None = None  # the From address (topmost), lower case
    field_counts: dict[str, int] = {}  # header field name (lower case) -> instances

    @property
    def external_id(self) -> str:
        """Message-ID, else the MX's digest, else :func:`delivered_digest`: the same mail, the same id."""
        return self.message_id or self.received_digest or delivered_digest(self.raw)

    @property
    def raw_text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")


def parse(raw: bytes, budget: ParseBudget | None = None) -> RelayMail:
    try:
        if budget is not None:
            _within_parts(raw, budget)
        return _parse(raw, budget)
    except Exception as exc:  # anything at all: flag it, keep the mail
        return RelayMail(raw=raw, parse_error=f"{type(exc).__name__}: {exc}"[:500])


def _within_parts(raw: bytes, budget: ParseBudget) -> None:
    """Counts MIME boundary lines before parsing: the parse of 60,000 parts takes ~47 s,
    the count a few ms. A line is a part's start when it is ``--`` + a declared boundary."""
    declared = _declared_boundaries(raw)
    if not declared:
        return
    parts = 0
    for line in raw.split(b"\n"):
        if line.startswith(b"--") and line[2:].rstrip() in declared:  # not the closing one
            parts += 1
            if parts > budget.max_parts:
                raise OverBudget(f"more than {budget.max_parts} MIME parts")


def _declared_boundaries(raw: bytes) -> set[bytes]:
    """Every ``boundary=`` value in the mail, found through a lower-cased copy (a regex
    that ignores case costs ~10 µs even on a mail with none)."""
    lowered, declared = raw.lower(), set()
    at = lowered.find(b"boundary")
    while at != -1:
        value = _BOUNDARY_VALUE.match(raw, at + len(b"boundary"))
        if value:
            declared.add(value[1].strip())
        at = lowered.find(b"boundary", value.end() if value else at + 1)
    return declared


def _within_depth(message: Message, budget: ParseBudget) -> None:
    level: list[tuple[Message, int]] = [(message, 1)]
    while level:
        part, depth = level.pop()
        if depth > budget.max_depth:
            raise OverBudget(f"MIME parts nested deeper than {budget.max_depth}")
        payload = part.get_payload() if part.is_multipart() else None
        level.extend((p, depth + 1) for p in payload or [] if isinstance(p, Message))


def delivered_digest(raw: bytes) -> str:
    """``sha256:<hex>`` of a mail without the trace fields its delivery put on top.

    For mail the MX did not stamp (it arrived by another path): the same content gives
    the same digest however many times, and through whichever hops, it was delivered.
    """
    lines = iter(_LINE_ENDING.sub(b"\r\n", raw).splitlines(keepends=True))
    digest = hashlib.sha256()
    skipping = False
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue  # a folded trace field's next line
        skipping = bool(_TRACE_FIELDS.match(line))
        if not skipping:
            digest.update(line)
            break
    for line in lines:
        digest.update(line)
    return f"sha256:{digest.hexdigest()}"


def _parse(raw: bytes, budget: ParseBudget | None) -> RelayMail:
    message = read_message(raw)
    if budget is not None:
        _within_depth(message, budget)
    headers = first_headers(message)
    counts = field_counts(name for name, _ in message.raw_items())
    plain, html, attachments = _parts(message)
    body = plain or (html_to_text(html) if html else "")
    subject = _header(headers, "Subject")
    text, quoted = split_quoted(buyer_section(body))
    inbound = _inbound_address(headers)
    parts = parse_address(inbound) if inbound else None
    relay = relay_for(parts.marketplace if parts else None)
    buyer_name, buyer_email = _buyer(headers, relay)
    orders = relay.order_ids_in(subject) or relay.order_ids_in(body)
    return RelayMail(
        raw=raw,
        message_id=_message_id(headers),
        subject=subject,
        order_id=orders[0] if orders else None,
        buyer_email=buyer_email,
        buyer_name=buyer_name,
        text=text,
        quoted=quoted,
        attachments=attachments,
        inbound_address=inbound,
        marketplace=parts.marketplace if parts else None,
        country=parts.country if parts else None,
        sent_at=_date(headers),
        parse_error=_problem(headers, plain or html),
        bounce=_bounce(message, headers, plain),
        received_digest=_received_digest(headers),
        accepted_at=_accepted_at(headers),
        automatic=is_automatic(message, headers) and not doubled(counts),
        from_address=_from_address(headers),
        field_counts=counts,
    )


def _header(headers: Headers, name: str) -> str:
    """The topmost ``name`` header, decoded (RFC 2047 words, or raw 8-bit in any charset)."""
    return header_text(headers.get(name.lower(), ""))


def _message_id(headers: Headers) -> str | None:
    """As written, blanks collapsed: an id is an identity, not text (no RFC 2047), and a
    malformed one is kept whole (cutting ``<a@b@c>`` to ``<a@b>``, as ``policy.default``
    does, would let two mails share an id and the second be dropped as a duplicate)."""
    return " ".join(clean(headers.get("message-id", "")).split()) or None


def _accepted_at(headers: Headers) -> datetime | None:
    """The MX's acceptance stamp (topmost), if a time with its zone."""
    try:
        stamp = datetime.fromisoformat(_header(headers, ACCEPTED_HEADER))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else None


def _received_digest(headers: Headers) -> str | None:
    """The MX's stamp (topmost: a sender's own is below it), if well-formed."""
    value = _header(headers, DIGEST_HEADER).lower()
    return value if _DIGEST.match(value) else None


def _problem(headers: Headers, body: str) -> str | None:
    """Parsed, but not a mail we can read: flagged rather than taken at face value."""
    if not headers:
        return "no headers: not an e-mail"
    if "from" not in headers:  # required by RFC 5322, and the buyer is known by it
        return "no From header: malformed mail"
    if not body:
        return "no text or HTML part"
    return None


# --- structure -------------------------------------------------------------------------


def _parts(message: Message) -> tuple[str, str, list[Attachment]]:
    """The text/plain body, the text/html body, and every attachment.

    Each body is all the inline parts of its type, in order, joined by a blank line: a
    client that puts an image in the middle of the buyer's text sends the words on either
    side as two parts, and an agent must read both (docs/POLLER.md, "Parsing").
    """
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    stack: list[Message] = [message]
    while stack:
        part = stack.pop(0)
        kind = part.get_content_type()  # read once, passed on
        if part.is_multipart() and not kind.startswith("message/"):
            stack[:0] = _children(part) if kind.startswith("multipart/") else []
        elif _is_attachment(part, kind):
            attachments.append(_attachment(part, kind))
        elif kind == "text/plain":
            plain.append(part_text(part))
        elif kind == "text/html":
            html.append(part_text(part))
    return _joined(plain), "\n".join(html), attachments


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _joined(texts: list[str]) -> str:
    return "\n\n".join(text.strip("\n") for text in texts if text.strip())


def _is_attachment(part: Message, kind: str) -> bool:
    if part.get_content_disposition() == "attachment" or part.get_filename():
        return True
    return kind.partition("/")[0] not in {"text", "multipart"}


def _attachment(part: Message, kind: str) -> Attachment:
    content = part_bytes(part)
    return Attachment(
        filename=filename(part) or "attachment",
        content_type=kind,
        size=len(content),
        content=content,
    )


# --- text ------------------------------------------------------------------------------


def buyer_section(body: str) -> str:
    """The text between the relay's first two marker lines (all of it when there are none)."""
    markers = list(MARKER.finditer(body))
    if not markers:
        return tidy(body)
    end = markers[1].start() if len(markers) > 1 else len(body)
    return tidy(body[markers[0].end() : end])


class _HtmlText(HTMLParser):
    """Visible text of an HTML body; block elements become line breaks, quotes get ``>``."""

    BLOCKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table"}
    HIDDEN = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0
        self.quote_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag == "blockquote":
            self.quote_depth += 1
            self.out.append("\n")
        elif tag in self.BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
            self.out.append("\n")
        elif tag in self.BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        text = " ".join(data.split())
        if not text:
            return
        if self.quote_depth and (not self.out or self.out[-1].endswith("\n")):
            text = "> " * self.quote_depth + text
        elif self.out and not self.out[-1].endswith(("\n", " ")):
            text = " " + text
        self.out.append(text)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return tidy("".join(parser.out))


# --- people and places -------------------------------------------------------------------


def _buyer(headers: Headers, relay: MailRelay) -> tuple[str | None, str | None]:
    """The anonymised buyer (From, else Reply-To), with the relay's suffix off the name."""
    for name in ("from", "reply-to"):
        for display, address in header_addresses(headers.get(name, "")):
            if relay.is_buyer_address(address):
                return relay.buyer_name(display), address.lower()
    return None, None


def _from_address(headers: Headers) -> str | None:
    addresses = header_addresses(headers.get("from", ""))
    return addresses[0][1].lower() if addresses else None


def _inbound_address(headers: Headers) -> str | None:
    """The address the MX stamped (topmost header), else an inbound address in To."""
    stamped = _header(headers, INBOUND_HEADER)
    if stamped:
        return stamped.lower()
    for name in ("to", "delivered-to"):
        for _, address in header_addresses(headers.get(name, "")):
            if parse_address(address):
                return address.lower()
    return None


def _date(headers: Headers) -> datetime | None:
    value = _header(headers, "Date")
    try:
        return header_date(value) if value else None
    except (TypeError, ValueError):
        return None


# --- automatic mails ------------------------------------------------------------------

# Marketplace notifications come from addresses nobody answers.
_NO_REPLY = re.compile(r"^(no-?reply|do-?not-?reply|donotreply|notifications?)@", re.IGNORECASE)


def is_automatic(message: Message, headers: Headers) -> bool:
    """Not a buyer message: an auto-reply or any automatic mail (RFC 3834 ``Auto-Submitted``
    other than ``no``), a report (delivery, read receipt), or a marketplace notification."""
    auto = _header(headers, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return True
    if message.get_content_type() == "multipart/report":
        return True
    senders = header_addresses(headers.get("from", ""))
    return any(_NO_REPLY.match(address) for _, address in senders)


# --- bounces ---------------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


def is_bounce(message: Message, headers: Headers) -> bool:
    """A delivery status report, or an automatic reply from a mailer daemon."""
    if message.get_content_type() == "multipart/report":
        return str(message.get_param("report-type", "")).lower() == "delivery-status"
    auto = _header(headers, "Auto-Submitted").lower()
    if not auto or auto == "no":
        return False
    senders = header_addresses(headers.get("from", ""))
    return any(_DAEMONS.match(address) for _, address in senders)


def _bounce(message: Message, headers: Headers, plain: str) -> Bounce | None:
    """The bounce's facts, or None for any other mail; never raises."""
    try:
        if not is_bounce(message, headers):
            return None
        return _read_bounce(message, headers, plain)
    except Exception:  # a bounce we cannot take apart still names its refused mail, maybe
        return Bounce(refused_message_ids=_threading_ids(headers), reason=tidy(plain))


def _read_bounce(message: Message, headers: Headers, plain: str) -> Bounce:
    fields: dict[str, str] = {}
    refused: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            fields = {**_status_fields(part), **fields}
        elif kind in {"text/rfc822-headers", "message/rfc822", "message/rfc822-headers"}:
            refused.extend(_refused_ids(part))
    # The first paragraph: the relay's sentence (what follows repeats the refused mail's headers).
    reason = " ".join(tidy(plain).split("\n\n")[0].split()) or fields.get("diagnostic-code", "")
    ids = list(dict.fromkeys([*refused, *_threading_ids(headers)]))
    final = fields.get("final-recipient", "")
    return Bounce(
        refused_message_ids=ids,
        reason=reason or "delivery failed (no reason given)",
        status=fields.get("status") or None,
        diagnostic=fields.get("diagnostic-code") or None,
        recipient=final.split(";", 1)[-1].strip() or None if final else None,
    )


def _status_fields(part: Message) -> dict[str, str]:
    """The per-message and per-recipient fields of a delivery-status part, lower-cased names."""
    blocks = part.get_payload()
    found: dict[str, str] = {}
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, Message):
            continue
        for name, value in block.items():
            found.setdefault(name.lower(), header_text(str(value)))
    return found


def _refused_ids(part: Message) -> list[str]:
    """The Message-ID of the refused mail, from its headers given back in the report."""
    payload = part.get_payload()
    if isinstance(payload, list):  # message/rfc822: the parsed mail
        inner = payload[0] if payload else None
        headers = first_headers(inner) if isinstance(inner, Message) else {}
    else:
        data = part.get_payload(decode=True)
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload)
        headers = first_headers(read_message(text.encode("utf-8"), headers_only=True))
    return _MESSAGE_ID.findall(_header(headers, "Message-ID"))[:1]


def _threading_ids(headers: Headers) -> list[str]:
    """In-Reply-To, then References newest first: a bounce names the refused mail there too."""
    references = _MESSAGE_ID.findall(_header(headers, "References"))
    return list(
        dict.fromkeys(
            [*_MESSAGE_ID.findall(_header(headers, "In-Reply-To")), *reversed(references)]
        )
    )
