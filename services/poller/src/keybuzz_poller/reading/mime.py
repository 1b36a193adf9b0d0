"""The low-level part of reading a mail: its MIME tree, header values and texts. Pure.

The tree is the standard library's (``email`` with ``policy.compat32``): the same
parser as ``policy.default``, without its header objects, which would be most of a
relay mail's parse time (docs/BENCHMARKS.md, bench_mail_parse). Header values stay the
raw strings of the source; :func:`header_text` decodes the few the poller reads,
each once: RFC 2047 words, or raw 8-bit bytes in any charset. Texts decode with
:func:`decode_text`, which treats the iso-8859-1 labels as windows-1252.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import Message
from email.parser import Parser
from email.utils import getaddresses, parsedate_to_datetime, quote, unquote
from typing import Any

# Labels that in practice mean windows-1252 (WHATWG Encoding): mail clients mislabel it.
_CP1252_LABELS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "windows-1252", "cp1252"}
# An RFC 2047 encoded word: =?charset[*language]?Q|B?text?=
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([qQbB])\?([^?\s]*)\?=")
# One address in its commonest form, ``Buyer Name - Relay Name <local@domain>``: plain
# words only, so nothing to decode or unquote (anything else goes through getaddresses).
_SIMPLE_ADDRESS = re.compile(
    r"[ \t]*(?P<name>[A-Za-z0-9 \t-]*?)[ \t]*"
    r"<(?P<address>[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>[ \t]*"
)
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_MONTHS = {m: n for n, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
# A Date as mail software writes it (RFC 5322 3.3, ``email.utils.format_datetime``): a
# four-digit year and a numeric zone; any other form goes to the stdlib's parser. ASCII
# digits only, so that each number but the year is one of ``_NUMBERS``.
_COMMON_DATE = re.compile(
    r"(?:[A-Za-z]{3}, )?(\d{1,2}) ([A-Za-z]{3}) ([1-9]\d{3}) (\d\d):(\d\d):(\d\d) ([+-]\d{4})",
    re.ASCII,
)
# A date's one- and two-digit numbers, looked up: ``int`` of a str is ~2k instructions.
_NUMBERS = {f"{n:02d}": n for n in range(100)} | {str(n): n for n in range(10)}


class IndexedMessage(Message):
    """``Message`` whose header lookups go through a dict of each name's first field, made
    on first use, and whose content type is worked out once.

    ``Message.get`` walks every field and lower-cases each name; the parse asks ~20 times
    a mail (content type, charset, disposition, file name …), which cost more than the
    parse of the tree itself. The answers are the same: the first field, fetched through
    the policy. Every method that changes the fields drops what was worked out.
    """

    _headers: list[tuple[str, Any]]  # Message's own list of fields, in order
    _first: dict[str, tuple[str, Any]] | None = None
    _content_type: str | None = None
    _params: dict[str, Any] | None = None

    def _forget(self) -> None:
        """Called after a change (the change itself may read the fields)."""
        self._first = None
        self._content_type = None
        self._params = None

    def _fields(self) -> dict[str, tuple[str, Any]]:
        first = self._first
        if first is None:
            first = {}
            for field, value in self._headers:
                first.setdefault(field.lower(), (field, value))
            self._first = first
        return first

    def get(self, name: str, failobj: Any = None) -> Any:
        found = self._fields().get(name.lower())
        return failobj if found is None else self.policy.header_fetch_parse(*found)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields()

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        # A header's parameters, split once (get_param and get_filename ask again and again).
        if self._params is None:
            self._params = {}
        key = header.lower()
        if key not in self._params:
            value = self.get(header)
            found = _plain_params(value) if isinstance(value, str) else None
            if found is None:
                missing = object()
                found = super()._get_params_preserve(missing, header)  # type: ignore[misc]
                found = None if found is missing else found
            self._params[key] = found
        params = self._params[key]
        return failobj if params is None else params

    def get_content_type(self) -> str:
        if self._content_type is None:
            self._content_type = super().get_content_type()
        return self._content_type

    def set_raw(self, name: str, value: Any) -> None:
        # The parser's call, once a field: as ``Message.set_raw``, without a call more.
        self._headers.append((name, value))
        if self._first is not None:  # the other two are worked out from it
            self._forget()

    def __setitem__(self, name: str, val: Any) -> None:
        super().__setitem__(name, val)
        self._forget()

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self._forget()

    def replace_header(self, _name: str, _value: Any) -> None:
        super().replace_header(_name, _value)
        self._forget()

    def set_boundary(self, boundary: str) -> None:
        super().set_boundary(boundary)
        self._forget()

    def set_default_type(self, ctype: str) -> None:
        super().set_default_type(ctype)
        self._forget()


def _plain_params(value: str) -> list[tuple[str, str]] | None:
    """A header's parameters as ``Message._get_params_preserve`` gives them (its
    ``_parseparam`` then ``utils.decode_params``), for the common value without RFC 2231
    names, escapes, or a quoted ``;``: split at each ``;``, each name lower-cased, each
    later value unquoted and quoted again. None for any other value (the stdlib's own
    parse then; it costs ~6 µs a part, this ~1). Same lists: test_mime.py."""
    if "\\" in value or "*" in value:
        return None
    pieces = value.split(";")
    if '"' in value and any(piece.count('"') % 2 for piece in pieces):
        return None
    params = []
    for position, piece in enumerate(pieces):
        name, equals, given = piece.partition("=")
        if position == 0:
            params.append((name.strip().lower(), given.strip()) if equals else (piece.strip(), ""))
        else:
            name = name.strip().lower() if equals else piece.strip()
            params.append((name, f'"{quote(unquote(given.strip()))}"'))
    return params


# A text parser: read_message decodes the bytes as BytesParser would (ASCII, surrogateescape).
_COMPAT32_PARSER = Parser(IndexedMessage, policy=policy.compat32)


Headers = dict[str, str]  # header name, lower-case → its topmost raw value


# One field as the stdlib's feed parser reads it: a name (its headerRE without the
# ``From `` envelope and the empty name, which it reports as defects), then the rest
# of the line and the continuation lines; lines end at \r\n, \r or \n. A match starts
# only at a line's start and its name never gives characters back: a long line of
# name characters without a colon costs one pass, not one pass per character.
_FIELD = re.compile(
    r"(?<![^\r\n])([\041-\071\073-\176]++):"
    r"([^\r\n]*(?:\r\n|\r|\n)?(?:[ \t][^\r\n]*(?:\r\n|\r|\n)?)*)"
)


def read_message(raw: bytes, *, headers_only: bool = False) -> Message:
    """The MIME tree; header values as in the source (8-bit bytes as surrogates).

    A single-part mail whose header is fields only, up to its first blank line, is built
    here as the stdlib's feed parser builds it, at a third of the cost (the feed parser
    passes each line through a deque and a generator, then a policy call a field);
    anything else goes to the feed parser."""
    text = raw.decode("ascii", "surrogateescape")
    message = _single_part(text, headers_only)
    if message is None:
        return _COMPAT32_PARSER.parsestr(text, headersonly=headers_only)
    return message


def _single_part(text: str, headers_only: bool) -> IndexedMessage | None:
    """The feed parser's tree for ``text`` if it is one part and its header, up to the
    first CRLF blank line, is fields only (no defect, no envelope line); else None."""
    blank = text.find("\r\n\r\n")
    if blank < 0:
        return None
    header = text[: blank + 2]
    fields = []
    read = 0
    for name, value in _FIELD.findall(header):
        read += len(name) + len(value) + 1
        # policy.compat32.header_source_parse: blanks after the colon and the last line end go
        fields.append((name, value.lstrip(" \t").rstrip("\r\n")))
    if read != len(header):  # matches never overlap: so some line is not a field's
        return None
    message = IndexedMessage(policy=policy.compat32)
    message._headers = fields
    if not headers_only and message.get_content_maintype() in ("multipart", "message"):
        return None
    message.set_payload(text[blank + 4 :])
    return message


def first_headers(message: Message) -> Headers:
    """Each header name (lower-case) → its topmost raw value: the MX prepends its stamps."""
    if isinstance(message, IndexedMessage):  # the same dict, made once a part
        return {name: str(value) for name, (_, value) in message._fields().items()}
    first: Headers = {}
    for name, value in message.raw_items():
        first.setdefault(name.lower(), str(value))
    return first


def header_text(value: str) -> str:
    """A raw header value as text: RFC 2047 words decoded, or raw 8-bit bytes (never both:
    an encoder that sends raw bytes does not write encoded words), blanks collapsed."""
    return " ".join(_decoded(value).split())


def _decoded(value: str) -> str:
    text = clean(value)
    return decode_words(value) if text == value and "=?" in value else text


def header_date(value: str) -> datetime:
    """``email.utils.parsedate_to_datetime``, the common form read by one regex (the
    stdlib's parser tries every form RFC 822 allowed). Raises ValueError."""
    common = _COMMON_DATE.fullmatch(value)
    if common is not None:
        day, month_name, year, hour, minute, second, zone = common.groups()
        month = _MONTHS.get(month_name.lower())
        if month is not None and zone != "-0000":  # -0000: a time in no known zone (naive)
            return datetime(
                int(year),
                month,
                _NUMBERS[day],
                _NUMBERS[hour],
                _NUMBERS[minute],
                _NUMBERS[second],
                tzinfo=_zone(zone),
            )
    return parsedate_to_datetime(value)


@functools.lru_cache(maxsize=64)
def _zone(zone: str) -> timezone:
    """``+hhmm`` / ``-hhmm`` as the stdlib makes it (minutes past 59 counted as such), made
    once: a mailbox's dates come in a few zones. Raises ValueError a day or more away."""
    offset = int(zone[1:3]) * 3600 + int(zone[3:5]) * 60
    return timezone(timedelta(seconds=-offset if zone[0] == "-" else offset))


def header_addresses(value: str) -> list[tuple[str, str]]:
    """(display name, address) of each address: split first, then each name decoded, so
    a comma inside an encoded name does not split the address."""
    simple = _SIMPLE_ADDRESS.fullmatch(value)
    if simple:  # what getaddresses gives for it, at a tenth of the cost
        return [(" ".join(simple["name"].split()), simple["address"])]
    return [(header_text(name), clean(address)) for name, address in getaddresses([value])]


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded with :func:`decode_text`; a malformed one stays as is."""
    pieces: list[str] = []
    position = 0
    for word in _ENCODED_WORD.finditer(value):
        gap = value[position : word.start()]
        if not (position and gap.isspace()):  # blanks between two words are not text (6.2)
            pieces.append(gap)
        pieces.append(_decoded_word(word))
        position = word.end()
    pieces.append(value[position:])
    return "".join(pieces)


def _decoded_word(word: re.Match[str]) -> str:
    charset, encoding, text = word.groups()
    try:
        if encoding in "bB":
            bare = text.rstrip("=")  # padding is often wrong: made right
            data = base64.b64decode(bare + "=" * (-len(bare) % 4), validate=True)
        else:
            data = _Q_ESCAPE.sub(
                lambda m: bytes([int(m[1], 16)]), text.encode().replace(b"_", b" ")
            )
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return word[0]
    return decode_text(data, charset)


def decode_text(data: bytes, charset: str | None) -> str:
    """The declared charset if it fits, else UTF-8, else windows-1252; never fails."""
    declared = (charset or "").strip().lower()
    if declared in _CP1252_LABELS:
        declared = "cp1252"
    if declared in {"us-ascii", "ascii", ""}:
        declared = "utf-8"  # 8-bit text labelled ASCII is UTF-8 far more often than not
    for codec in (declared, "utf-8", "cp1252"):
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")  # every byte is a character: the last resort cannot fail


def clean(value: str) -> str:
    """Raw 8-bit bytes in a header arrive as surrogates: decode them like a body."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return decode_text(value.encode("utf-8", "surrogateescape"), None)


def part_text(part: Message) -> str:
    """A text part's content, transfer encoding undone, decoded, with ``\\n`` line ends."""
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    return decode_text(data, part.get_content_charset()).replace("\r\n", "\n")


def part_bytes(part: Message) -> bytes:
    """A leaf part's content, transfer encoding undone; an attached mail (message/*) as
    it reads once generated again (the stdlib keeps no source offsets)."""
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else None
        # Generated with policy.default: the bytes the tests' golden.json records.
        return first.as_bytes(policy=policy.default) if isinstance(first, Message) else b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def filename(part: Message) -> str:
    """The part's file name (RFC 2231 or RFC 2047 encoded, or raw 8-bit), or ""."""
    return _decoded(part.get_filename() or "")
