"""Faults on demand, so that clients' retry and parsing paths can be tested.

Random faults draw from a generator seeded with SANDBOX_SEED (reproducible for a
given call sequence); `failNext` / `malformedNext` give exact, non-flaky counts.
"""

from __future__ import annotations

import asyncio
import html
import random
import re
import textwrap
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import msgspec
from lxml import etree

# The default size of a ``huge`` answer (``malform``).
HUGE_BYTES = 32 * 1024 * 1024
# What ``malform`` makes (below, with the hostile JSON's sizes).
JSON_KINDS = ("invalid_json", "schema", "deep", "bignum", "duplicate", "huge", "bad_bytes")
# What an XML API's double answers alike (``xml_malform``, ``xml_huge``, ``WEB_PAGE``).
XML_KINDS = ("truncated", "entities", "deep", "mistyped", "huge", "html", "bad_bytes")
ALLOWED_STATUSES = frozenset({429, 500, 503})
# failNext may also refuse access (403): with a large count and one operation, the
# marketplace refusing that operation to this application for good.
FAIL_NEXT_STATUSES = ALLOWED_STATUSES | {403}
MAX_SLOW_SECONDS = 3_600.0  # a stall, a trickle's pause or a hold, at most

# Bounds a double's settings declare, checked as a body is read (off them: Litestar's 400).
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]
NextCount = Annotated[int, msgspec.Meta(ge=0)]  # the next n calls (or mails) to misbehave
SlowSeconds = Annotated[float, msgspec.Meta(ge=0, le=MAX_SLOW_SECONDS)]


class FaultConfig(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of PUT /_sandbox/faults (and what GET returns)."""

    # The ``malformedKind`` values the double takes: a double answering bodies of its own
    # beyond ``malform``'s (a proxy's "html" page) names them all here.
    malformed_kinds: ClassVar[tuple[str, ...]] = JSON_KINDS
    # The statuses its ``errorStatuses`` and ``failStatus`` take: a double whose API's
    # gateways answer others names them here.
    error_statuses_taken: ClassVar[frozenset[int]] = ALLOWED_STATUSES
    fail_statuses_taken: ClassVar[frozenset[int]] = FAIL_NEXT_STATUSES

    error_rate: Fraction = 0.0
    error_statuses: list[int] = msgspec.field(default_factory=lambda: [500, 503])
    latency_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    malformed_rate: Fraction = 0.0
    malformed_kind: str = "invalid_json"
    # Operation ids ("getOrders") or qualified keys ("ordersV0.getOrders"); empty: all
    # the double's operations (but those it applies faults to only when named).
    operations: list[str] = msgspec.field(default_factory=list)
    fail_next: NextCount = 0
    fail_status: int = 503
    malformed_next: NextCount = 0
    # The size of a ``huge`` answer: set past the cap of the client under test.
    huge_bytes: Annotated[int, msgspec.Meta(ge=1)] = HUGE_BYTES

    def problems(self) -> list[str]:
        issues = []
        if not set(self.error_statuses) <= self.error_statuses_taken:
            issues.append(f"errorStatuses must be among {sorted(self.error_statuses_taken)}")
        if self.fail_status not in self.fail_statuses_taken:
            issues.append(f"failStatus must be among {sorted(self.fail_statuses_taken)}")
        if self.malformed_kind not in self.malformed_kinds:
            issues.append(f"malformedKind must be one of {', '.join(self.malformed_kinds)}")
        return issues


def as_written(text: str) -> str:
    """A seller's reply shown on its thread as it was sent."""
    return text


# Typography a marketplace's editor applies: curly apostrophes and German-style double
# quotes, dashes and ellipses as their characters.
_TYPOGRAPHY = (("...", "\u2026"), ("--", "\u2014"), ("'", "\u2019"))
# Emoji shown as a short code; any other emoji is removed, a skin tone changed, and an
# emoji's variation selector (U+FE0F) dropped.
_SHORTCODES = {"\U0001f44d": ":thumbsup:", "\U0001f642": ":slightly_smiling_face:"}
_SKIN_TONES = re.compile("[\U0001f3fb-\U0001f3fe]")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u200d]")
_LONG_WORD = re.compile(r"(\w{4})(\w{4,})")
WRAP_COLUMNS = 24  # the width a marketplace re-wraps a reply's lines to


def _typographic(text: str) -> str:
    """``'`` as ``’``, ``--`` as ``—``, ``...`` as ``…``, "…" as „…“, a space before
    ``!?;:`` a narrow no-break one (French typography)."""
    for typed, shown in _TYPOGRAPHY:
        text = text.replace(typed, shown)
    quotes = iter(("\u201e", "\u201c") * text.count('"'))
    text = re.sub('"', lambda _: next(quotes), text)
    return re.sub(r" ([!?;:])", "\u202f\\1", text)


def _emoji_altered(text: str) -> str:
    """Emoji as some marketplaces show them: a short code, another skin tone, no
    variation selector, or removed."""
    for emoji, code in _SHORTCODES.items():
        text = text.replace(emoji, code)
    text = _SKIN_TONES.sub("\U0001f3ff", text).replace("\ufe0f", "")
    return _EMOJI.sub("", text)


def _invisibles(text: str) -> str:
    """A soft hyphen inside each long word, a zero-width space after each comma (before
    emoji become short codes: a marketplace's editor, then its display)."""
    return _LONG_WORD.sub("\\1\u00ad\\2", text).replace(",", ",\u200b")


def _rewrapped(text: str) -> list[list[str]]:
    """The text's paragraphs, each re-wrapped to ``WRAP_COLUMNS`` (words kept whole)."""
    paragraphs = re.split(r"\n\s*\n", text)
    return [
        textwrap.wrap(p, WRAP_COLUMNS, break_long_words=False, break_on_hyphens=False)
        for p in paragraphs
    ]


def _marked_up(paragraphs: list[list[str]]) -> str:
    """Escaped twice (``&amp;amp;``, typography as ``&amp;#8217;``), its first word bold,
    lines ending ``<br />`` and CRLF, paragraphs in ``<p>``, all in ``<div><span>``."""

    def escaped(line: str) -> str:
        once = html.escape(line, quote=True)
        marks = "".join(c if c.isalnum() or c.isascii() else f"&#{ord(c)};" for c in once)
        return html.escape(marks, quote=True)

    body = "".join(
        "<p>" + "<br />\r\n".join(escaped(line) for line in lines) + "</p>" for lines in paragraphs
    )
    body = re.sub(r"<p>(\w+)", r"<p><b>\1</b>", body, count=1)
    return f'<div class="message"><span>{body}</span></div>'


def rewritten(text: str) -> str:
    """A seller's reply shown on its thread as marketplaces rewrite it, every rewriting
    at once (each keeps the words, none keeps the characters): trimmed, typography
    (``’ — … „“``, narrow no-break spaces), emoji altered (short codes, skin tone,
    variation selector dropped, removed), soft hyphens and zero-width spaces, lines
    re-wrapped, escaped twice as HTML entities, markup (``<div>``, ``<span>``, ``<b>``,
    ``<p>``, ``<br />`` and CRLF), accents decomposed (Unicode NFD). The doubles all show
    a reply through this one function (``reply_shown``)."""
    text = _emoji_altered(_invisibles(_typographic(text.strip())))
    return unicodedata.normalize("NFD", _marked_up(_rewrapped(text)))


class SlowAnswer(msgspec.Struct, frozen=True):
    stall: float = 0.0  # seconds before the request is handled
    trickle: float = 0.0  # seconds between each byte of the answer
    hold: float = 0.0  # seconds between handling the request and answering it


class SlowFaultConfig(FaultConfig, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The fault settings of a shop API's double: ``FaultConfig``'s, and slow shops. Per
    shop: ``stall_shops`` get no answer for ``stall_seconds`` (then their request is handled),
    ``trickle_shops`` theirs one byte every ``trickle_seconds``, ``hold_shops`` theirs
    ``hold_seconds`` after their request was handled (done, the caller not told); real
    seconds, an empty list with seconds above 0: every shop."""

    stall_seconds: SlowSeconds = 0.0
    stall_shops: list[str] = msgspec.field(default_factory=list)
    trickle_seconds: SlowSeconds = 0.0
    trickle_shops: list[str] = msgspec.field(default_factory=list)
    hold_seconds: SlowSeconds = 0.0
    hold_shops: list[str] = msgspec.field(default_factory=list)
    # The seller's replies shown on their threads rewritten (``rewritten``), as sent in the
    # double's log of what the seller sent.
    rewrite_replies: bool = False
    # The seller's replies dated this many real seconds before the real time, as by a
    # marketplace whose clock is behind ours (0: dated by the double's clock).
    replies_behind_seconds: float = 0.0
    # A listing's pages as a hostile marketplace pages them: every page empty yet saying
    # another follows (``emptyPagesSayMore``), or every page the first one again, saying
    # another follows (``pagesRepeat``). A client that follows them pages for ever.
    empty_pages_say_more: bool = False
    pages_repeat: bool = False
    # The shops whose listings page so (empty: every shop's), and the hostile pages served
    # since the fault was armed (read back with the settings: the calls they cost).
    paging_shops: list[str] = msgspec.field(default_factory=list)
    hostile_pages: int = 0
    hostile_listings: int = 0  # of which first pages: the listings begun

    def slow_answer(self, shop_id: str) -> SlowAnswer:
        """How the answer to ``shop_id``'s request is held back (none: ``SlowAnswer()``)."""
        shop = shop_id.upper()

        def hits(seconds: float, shops: list[str]) -> float:
            return seconds if seconds and (not shops or shop in {s.upper() for s in shops}) else 0

        return SlowAnswer(
            stall=hits(self.stall_seconds, self.stall_shops),
            trickle=hits(self.trickle_seconds, self.trickle_shops),
            hold=hits(self.hold_seconds, self.hold_shops),
        )


class WebPageFaults(SlowFaultConfig, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """A JSON shop API's faults (``SlowFaultConfig``), and ``malformedKind`` ``html``: a web
    page (a proxy's, a firewall's) where JSON was expected, with status 200."""

    malformed_kinds: ClassVar[tuple[str, ...]] = (*JSON_KINDS, "html")


def reply_shown(config: FaultConfig) -> Callable[[str], str]:
    """How a double's threads show a seller's reply under its fault settings ``config``."""
    if isinstance(config, SlowFaultConfig) and config.rewrite_replies:
        return rewritten
    return as_written


def as_dated(own_now: float) -> float:
    """A seller's reply dated by the double's own clock."""
    return own_now


def as_real(real: float) -> float:
    """A double's own clock that is the real time."""
    return real


def reply_dating(
    config: FaultConfig, real_now: float, own_clock: Callable[[float], float] = as_real
) -> Callable[[float], float]:
    """How a double dates a seller's reply written at ``real_now`` (real epoch seconds)
    under its fault settings ``config``, from its own clock's time then. ``own_clock``: the
    double's clock at a real time (a shop's virtual timeline, faster than real time): the
    date behind is on that clock too, or a double whose timeline runs ahead would date the
    reply by the real time read as its own, which its threads then show back near the
    sandbox's start, minutes before the reply, as the longer the sandbox has run."""
    behind = config.replies_behind_seconds if isinstance(config, SlowFaultConfig) else 0.0
    if not behind:
        return as_dated
    dated = own_clock(real_now - behind)
    return lambda own_now: min(own_now, dated)


def hostile_page(
    config: FaultConfig, first: list[Any], shop_id: str = "", following: bool = False
) -> list[Any] | None:
    """What a listing's page of ``shop_id`` shows when a paging fault is armed for it (None:
    none is): nothing (``emptyPagesSayMore``) or ``first``, the first page's items, again
    (``pagesRepeat``); the double's page says another follows either way. Each counted in
    ``hostilePages``, a first page (not ``following`` another) in ``hostileListings``."""
    if not isinstance(config, SlowFaultConfig):
        return None
    if not (config.empty_pages_say_more or config.pages_repeat):
        return None
    if config.paging_shops and shop_id.upper() not in {s.upper() for s in config.paging_shops}:
        return None
    config.hostile_pages += 1
    config.hostile_listings += not following
    return [] if config.empty_pages_say_more else list(first)


def no_hostile_paging(first: list[Any], following: bool) -> list[Any] | None:
    """A shop's listings paged as they should."""
    return None


@dataclass(frozen=True)
class ReplyFaults:
    """How a shop's threads show and date a seller's reply: a fault may rewrite it, or date
    it behind our clock. A shop's book holds one, set by the double's routes from its fault
    settings before each call (``reply_faults``)."""

    show: Callable[[str], str] = as_written
    date: Callable[[float], float] = as_dated
    # How its listings' pages are shown under a paging fault (``hostile_page``): given the
    # first page's items and whether the page asked follows another, what it lists, None
    # when paged as it should.
    paged: Callable[[list[Any], bool], list[Any] | None] = no_hostile_paging


def reply_faults(
    config: FaultConfig,
    real_now: float,
    shop_id: str = "",
    own_clock: Callable[[float], float] = as_real,
) -> ReplyFaults:
    """The reply faults of ``config`` for a call of ``shop_id`` at ``real_now`` (real epoch
    seconds), on a double whose clock reads ``own_clock`` at a real time (``reply_dating``),
    with its paging faults."""
    return ReplyFaults(
        reply_shown(config),
        reply_dating(config, real_now, own_clock),
        lambda first, following: hostile_page(config, first, shop_id, following),
    )


async def trickled(content: bytes, pause: float) -> AsyncIterator[bytes]:
    """The answer one byte at a time, ``pause`` seconds apart: a server that keeps the
    connection busy without ever finishing (each read well within a client's timeout)."""
    for at in range(len(content)):
        yield content[at : at + 1]
        await asyncio.sleep(pause)


class FaultDecision(msgspec.Struct, frozen=True):
    latency_s: float = 0.0
    error_status: int | None = None
    malformed_kind: str | None = None


class FaultInjector:
    def __init__(self, seed: str, initial: FaultConfig) -> None:
        self._rng = random.Random(f"{seed}|faults")
        self.config = initial

    def applies_to(self, op_key: str) -> bool:
        names = self.config.operations
        return not names or op_key in names or op_key.partition(".")[2] in names

    def decide(self, op_key: str) -> FaultDecision:
        cfg = self.config
        if not self.applies_to(op_key):
            return FaultDecision()
        status = self._error_status(cfg)
        malformed = None if status else self._malformed(cfg)
        return FaultDecision(
            latency_s=cfg.latency_ms / 1000, error_status=status, malformed_kind=malformed
        )

    def slow_answer(self, op_key: str, shop_id: str) -> SlowAnswer:
        """How the answer to ``shop_id``'s request for ``op_key`` is held back."""
        config = self.config
        if not isinstance(config, SlowFaultConfig) or not self.applies_to(op_key):
            return SlowAnswer()
        return config.slow_answer(shop_id)

    async def delayed(self, op_key: str) -> FaultDecision:
        """decide(), after sleeping the decided latency."""
        decision = self.decide(op_key)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        return decision

    def _error_status(self, cfg: FaultConfig) -> int | None:
        if cfg.fail_next > 0:
            cfg.fail_next -= 1
            return cfg.fail_status
        if cfg.error_rate and self._rng.random() < cfg.error_rate:
            return self._rng.choice(cfg.error_statuses)
        return None

    def _malformed(self, cfg: FaultConfig) -> str | None:
        if cfg.malformed_next > 0:
            cfg.malformed_next -= 1
            return cfg.malformed_kind
        if cfg.malformed_rate and self._rng.random() < cfg.malformed_rate:
            return cfg.malformed_kind
        return None


def _stringless(value: object) -> object:
    """Every string leaf becomes a number: still JSON, not the model's types."""
    if isinstance(value, dict):
        return {k: _stringless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringless(v) for v in value]
    return 0 if isinstance(value, str) else value


# Hostile JSON of its own: still JSON (but for "deep", which no parser may follow), not
# what a client can take as it comes; "huge": the answer as it is, padded with whitespace to
# ``huge_bytes`` (its length declared), larger than a client may read.
DEEP_NESTING = 100_000  # arrays in arrays: past any parser's recursion limit
HUGE_NUMBER = b"9" * 5_000  # an integer no 64-bit type holds, past Python's 4,300 digits


# A "bad_bytes" answer: what a buyer wrote holding these marks (ASCII, written alike in
# JSON and XML) is served with, in their place, what no strict decoder takes as text —
# ``NOT_UTF8_MARK``: raw bytes that are not UTF-8 (0xFF; in XML also a raw C0 control
# XML forbids); ``FORBIDDEN_MARK``: JSON's escape of a lone surrogate, XML's reference to a
# character it forbids (NUL). The rest of the answer is as it should be.
NOT_UTF8_MARK = "[[not-utf-8]]"
FORBIDDEN_MARK = "[[forbidden]]"
_JSON_BAD_BYTES = {NOT_UTF8_MARK: b"\xff", FORBIDDEN_MARK: b"\\udcff"}
_XML_BAD_BYTES = {NOT_UTF8_MARK: b"\xff\x01", FORBIDDEN_MARK: b"&#0;"}


def _marks_replaced(body: bytes, replacements: dict[str, bytes]) -> bytes:
    for mark, bad in replacements.items():
        body = body.replace(mark.encode(), bad)
    return body


def malform(body: bytes, kind: str, huge_bytes: int = HUGE_BYTES) -> bytes:
    if kind == "bad_bytes":
        return _marks_replaced(body, _JSON_BAD_BYTES)
    if kind == "huge":
        return body + b" " * max(0, huge_bytes - len(body))
    if kind == "schema":
        return msgspec.json.encode(_stringless(msgspec.json.decode(body)))
    if kind == "deep":
        return b"[" * DEEP_NESTING + b"]" * DEEP_NESTING
    if kind == "bignum":  # a number too large for any type, first in the answer
        decoded = msgspec.json.decode(body)
        enc = msgspec.json.encode
        if isinstance(decoded, dict):
            rest = b"".join(b", " + enc(k) + b": " + enc(v) for k, v in decoded.items())
            return b'{"n": ' + HUGE_NUMBER + rest + b"}"
        items = decoded if isinstance(decoded, list) else [decoded]
        return b"[" + HUGE_NUMBER + b"".join(b", " + enc(v) for v in items) + b"]"
    if kind == "duplicate":  # each key of the top object given twice, a bogus value first
        decoded = msgspec.json.decode(body)
        if isinstance(decoded, dict):
            enc = msgspec.json.encode
            pairs = [enc(k) + b": null, " + enc(k) + b": " + enc(v) for k, v in decoded.items()]
            return b"{" + b", ".join(pairs) + b"}"
        return body
    # A strict prefix of a JSON object or array is never valid JSON.
    return body[: max(1, len(body) // 2)]


# Hostile XML of its own, made from the answer as it is: "truncated", its first half;
# "entities", a billion laughs under its root's name (a client must refuse it, never
# expand it); "deep", elements nested inside its root past what a guarded parser takes;
# "mistyped", a word where its items' dates or numbers are (each item off its shape, the
# document well-formed); "bad_bytes", a buyer's marked text unreadable (above); "huge"
# (``xml_huge``), its root never closed, padded past a client's cap; "html" (``WEB_PAGE``),
# a web page instead.
# libxml2 refuses an element past 256 levels unless in huge-tree mode (then past 2,048):
# past the first, within the second, so that a guard in huge-tree mode is caught.
XML_DEEP_NESTING = 1_000
MISTYPED_TEXT = "bientôt"  # neither a number nor a date
WEB_PAGE = (
    b"<!DOCTYPE html><html><head><meta charset=utf-8><title>OK</title></head>"
    b"<body><p>OK<br></body></html>"
)
_PADDING = b"<a/>" * (256 * 1024)  # 1 MiB of elements
_INSIDE = "keybuzz-inside"  # a comment marking where the root's content ends


def xml_malform(body: bytes, kind: str, mistyped: tuple[str, ...] = ()) -> bytes:
    """``body`` (the double's own well-formed answer) made hostile as ``kind`` says (but
    "huge" and "html": ``xml_huge``, ``WEB_PAGE``). ``mistyped``: the double's typed
    fields as ``item/field`` (local names), each such field of each such item given
    ``MISTYPED_TEXT``."""
    if kind == "entities":
        name = etree.QName(_root(body)).localname
        levels = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
        doctype = f'<!DOCTYPE {name} [<!ENTITY l0 "lol">{levels}]>'
        return f'<?xml version="1.0"?>{doctype}<{name}>&l9;</{name}>'.encode()
    if kind == "deep":
        head, tail = _opened(body)
        nested = b"<a>" * XML_DEEP_NESTING + b"</a>" * XML_DEEP_NESTING
        return head + nested + tail
    if kind == "mistyped":
        root = _root(body)
        fields = {tuple(path.split("/", 1)) for path in mistyped}
        for element in root.iter():
            parent = element.getparent()
            if parent is not None and (_local(parent), _local(element)) in fields:
                element.text = MISTYPED_TEXT
        return _serialized(root)
    if kind == "bad_bytes":  # marked texts out of CDATA: a reference is read there
        root = _root(body)
        for element in root.iter():
            if element.text and (NOT_UTF8_MARK in element.text or FORBIDDEN_MARK in element.text):
                element.text = str(element.text)
        return _marks_replaced(_serialized(root), _XML_BAD_BYTES)
    return body[: max(1, len(body) // 2)]  # truncated


async def xml_huge(body: bytes, huge_bytes: int = HUGE_BYTES) -> AsyncIterator[bytes]:
    """``body`` with its root never closed, padded with elements to ``huge_bytes``,
    streamed without a declared length: a client must count what it reads and stop."""
    head, _ = _opened(body)
    yield head
    for sent in range(len(head), huge_bytes, len(_PADDING)):
        yield _PADDING[: huge_bytes - sent]


def _root(body: bytes) -> etree._Element:
    return etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _serialized(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _opened(body: bytes) -> tuple[bytes, bytes]:
    """``body`` cut where its root's content ends: before, and its root's closing tag."""
    root = _root(body)
    root.append(etree.Comment(_INSIDE))
    head, _, tail = _serialized(root).partition(f"<!--{_INSIDE}-->".encode())
    return head, tail
