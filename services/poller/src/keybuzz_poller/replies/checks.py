"""A reply's checks (pure): what the marketplace's mail relay takes, checked before anything
is stored.

The relay (the connector's ``mail_relay``, ``inbound/relays.py``) says what a reply may
hold: text length, attachment types and their total size. Everything that can be checked
here is checked; what only the marketplace knows (is the sender approved? did the buyer
opt out?) comes back as a bounce (``bounces.py``).
"""

from __future__ import annotations

import binascii
import re
from typing import Annotated, Protocol

import msgspec
from keybuzz_shared.connectors.seam import Limits, Recipient, RelayReplyRules, ReplyFile
from keybuzz_shared.text import storable

from keybuzz_poller.inbound.relays import relay_for, relay_marketplace, relay_names, relays

# The first relay's at start, which a reply of no known marketplace is checked against.
RULES = relay_for(None).reply_rules
MAX_ATTACHMENT_BYTES = RULES.max_attachment_bytes  # all attachments of a message together
MAX_TEXT_CHARS = RULES.max_text_chars
# Each attachment costs a MIME part when the mail is built; without a cap, 20,000 one-byte
# ones cost 25 s and ~600 MB (docs/SECURITY.md). Refused while decoding the body, before
# any attachment is read, whichever the ticket's marketplace: the largest count of the
# relays installed at start (a body's type is fixed then; each relay's own count is checked
# in ``check_reply``, a relay added later included).
MAX_ATTACHMENTS = max(r.reply_rules.max_attachments for r in relays().values())
# One address, no display name, no header injection: what a Seller Central sender looks like.
EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_UNSAFE_FILENAME = re.compile(r"[/\\]")
# Control characters (C0, DEL, C1 with U+0085), line and paragraph separators, and the
# bidirectional controls: U+202E shows "evil\u202egpj.pdf" as "evilfdp.jpg" to the buyer.
_INVISIBLE_IN_FILENAME = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


class MarketplaceRules(Protocol):
    """What a marketplace's API takes in a reply (its connector's): ``MarketplaceReplies``."""

    @property
    def limits(self) -> Limits: ...

    def reply_text(self, text: str) -> str: ...


class InvalidReply(Exception):
    """Text or an attachment the relay would not take, or that cannot be read."""


class AttachmentsTooLarge(InvalidReply):
    """Over the relay's size for all attachments of a message."""


class UnsupportedAttachment(InvalidReply):
    """A file type the relay refuses."""


class InvalidSettings(Exception):
    """A poller setting the tenant got wrong."""


class AttachmentIn(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    filename: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    content_type: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    content_base64: str


class ReplyRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    text: str
    attachments: Annotated[list[AttachmentIn], msgspec.Meta(max_length=MAX_ATTACHMENTS)] = []
    # Sent by a rule (a template), not written by an agent: it does not answer the buyer
    # as the marketplace counts it, so the response deadline keeps running.
    automatic: bool = False
    # Whom it is for, among those the ticket's marketplace offers on its thread (BUYER,
    # MARKETPLACE_SUPPORT, OPERATOR, ALL); none given: the buyer, or the marketplace's
    # customer service while the order's incident is open. A mail goes to the buyer.
    recipient: Recipient | None = None


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    filename: str
    content_type: str
    content: bytes


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """A checked reply: what the agent wrote and attached."""

    text: str
    attachments: list[Attachment]
    automatic: bool = False


def check_reply(request: ReplyRequest, marketplace: str | None = None) -> Reply:
    """The reply as ``marketplace``'s relay (None: the first relay) will take it, or the
    first problem, named."""
    marketplace = relay_marketplace(marketplace)
    rules, name = relay_for(marketplace).reply_rules, relay_names()[marketplace]
    if request.recipient not in (None, "BUYER"):
        raise InvalidReply(f"{name} carries a reply to the buyer only, not to {request.recipient}")
    text = request.text.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidReply("text must not be empty")
    if len(text) > rules.max_text_chars:
        raise InvalidReply(f"text is longer than {rules.max_text_chars} characters")
    if storable(text) != text:
        raise InvalidReply("text holds characters a mail cannot carry (NUL)")
    if len(request.attachments) > rules.max_attachments:
        raise InvalidReply(f"{name} takes at most {rules.max_attachments} attachments")
    attachments = [_attachment(a, rules, name) for a in request.attachments]
    total = sum(len(a.content) for a in attachments)
    if total > rules.max_attachment_bytes:
        raise AttachmentsTooLarge(
            f"attachments total {total} bytes, over {name}'s limit of "
            f"{rules.max_attachment_bytes} bytes ({rules.max_attachment_bytes // 2**20} MB) "
            "per message"
        )
    return Reply(text=text, attachments=attachments, automatic=request.automatic)


def _attachment(given: AttachmentIn, rules: RelayReplyRules, relay_name: str) -> Attachment:
    name = given.filename.strip()
    invisible = _INVISIBLE_IN_FILENAME.search(given.filename)
    if invisible:
        raise InvalidReply(
            f"attachment filename {given.filename!r} is not a plain file name: it holds "
            f"U+{ord(invisible.group()):04X} (control, line-separator and bidirectional "
            "characters are not allowed)"
        )
    if _UNSAFE_FILENAME.search(name) or not name:
        raise InvalidReply(f"attachment filename {given.filename!r} is not a plain file name")
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = given.content_type.strip().lower()
    types = rules.attachment_types
    if extension not in types:
        allowed = " ".join(sorted(types))
        raise UnsupportedAttachment(
            f"attachment {name!r}: {relay_name} accepts only these file types: {allowed}"
        )
    if kind not in types[extension]:
        expected = ", ".join(sorted(types[extension]))
        raise UnsupportedAttachment(
            f"attachment {name!r}: content type {given.content_type!r} does not match "
            f"{extension} (expected {expected})"
        )
    try:
        # From the JSON text itself (an ASCII str is read in place, not copied to bytes first).
        content = binascii.a2b_base64(given.content_base64, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidReply(f"attachment {name!r}: contentBase64 is not valid base64") from None
    return Attachment(filename=name, content_type=kind, content=content)


def check_api_reply(
    request: ReplyRequest, api: MarketplaceRules, marketplace: str
) -> tuple[str, tuple[ReplyFile, ...]]:
    """The reply's text as the marketplace will carry it (its connector's rule: what the
    thread lists back once it is sent, so the ticket and the read-back see the same text)
    and its files as bytes, both within the connector's ``Limits``; or the first problem,
    named with the rule."""
    limits = api.limits
    text = api.reply_text(request.text.replace("\r\n", "\n")).strip()
    if not text:
        raise InvalidReply(
            f"text must not be empty (once what {marketplace} cannot carry is left out)"
        )
    if len(text) > limits.max_text_length:
        raise InvalidReply(
            f"text is longer than {limits.max_text_length} characters, {marketplace}'s limit"
        )
    if storable(text) != text:
        raise InvalidReply("text holds characters a marketplace message cannot carry (NUL)")
    if len(request.attachments) > limits.max_attachments:
        raise InvalidReply(
            f"{marketplace} replies take no attachments"
            if not limits.max_attachments
            else f"{marketplace} replies take at most {limits.max_attachments} attachments"
        )
    files = tuple(_api_file(a, limits, marketplace) for a in request.attachments)
    for file in files:
        if limits.max_file_bytes is not None and len(file.data) > limits.max_file_bytes:
            raise AttachmentsTooLarge(
                f"attachment {file.name!r} is {len(file.data)} bytes, over {marketplace}'s "
                f"limit of {limits.max_file_bytes} bytes a file"
            )
    total = sum(len(f.data) for f in files)
    if total > limits.max_attachment_bytes:
        raise AttachmentsTooLarge(
            f"attachments total {total} bytes, over {marketplace}'s limit of "
            f"{limits.max_attachment_bytes} bytes per reply"
        )
    return text, files


def _api_file(given: AttachmentIn, limits: Limits, marketplace: str) -> ReplyFile:
    kind = given.content_type.strip().lower()
    if limits.attachment_formats and kind not in limits.attachment_formats:
        allowed = ", ".join(limits.attachment_formats)
        raise UnsupportedAttachment(
            f"attachment {given.filename!r} is {kind}: {marketplace} takes only {allowed}"
        )
    try:
        data = binascii.a2b_base64(given.content_base64, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidReply("an attachment's contentBase64 is not valid base64") from None
    return ReplyFile(name=given.filename.strip(), content_type=kind, data=data)


def check_sender_address(address: str) -> str:
    value = address.strip()
    if len(value) > 254 or not EMAIL_ADDRESS.fullmatch(value):
        raise InvalidSettings("replyFromAddress must be one e-mail address (name@domain)")
    return value.lower()
