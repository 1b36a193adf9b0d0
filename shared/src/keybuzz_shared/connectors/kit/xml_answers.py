"""XML answers: the guarded parse, elements decoded into Structs, and the status envelope an XML API wraps its answers in."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple, TypeAlias, TypeVar, cast

import httpx
import msgspec
from lxml import etree

from keybuzz_shared.connectors import seam
from keybuzz_shared.connectors.kit.requester import ApiSpec, CallErrors, Garbled, Refusal, Refusals
from keybuzz_shared.connectors.seam import RequestRefused
from keybuzz_shared.json_calls import Unavailable
from keybuzz_shared.mended import xml_mended
from keybuzz_shared.redaction import mask_tokens, remote_excerpt

# --- xml answers ---------------------------------------------------------------------------
# A marketplace's XML answer parsed so that no entity is ever declared, expanded or
# fetched, by three locks: a document in another encoding than the ones the marketplace
# answers in is refused unread, and the parser reads every document in the first of them
# whatever its declaration says (a DTD written in UTF-7 stays text, and so not well-formed);
# a DTD in the prolog is refused before libxml2 sees it; and the parsed document is checked
# again: no document type declaration, no entity reference left (the parser resolves none).
# The parser (lxml) also runs with DTD loading, network and huge-tree mode off (so
# libxml2's limits hold: elements nested 256 deep at most), and the answer's size is
# bounded before parsing. ``Node`` reads an answer's fields, each missing
# or misshapen one the marketplace's unreadable answer. lxml was chosen by measurement: 4-5x faster
# than defusedxml (docs/BENCHMARKS.md).

Element = etree._Element

# What may stand before the root element: a UTF-8 byte order mark, white space, the XML
# declaration, processing instructions and comments. A "<!" after them opens a DTD.
_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
# The encoding the XML declaration names, if it names one.
_DECLARED_ENCODING = re.compile(
    rb"(?:\xef\xbb\xbf)?<\?xml\s[^>]*?\bencoding\s*=\s*[\"']([^\"']*)[\"']", re.DOTALL
)
# Byte order marks and first bytes of the encodings other than UTF-8 (UTF-16/32, EBCDIC,
# UTF-7): such a document could spell "<!DOCTYPE" without those bytes.
_OTHER_ENCODINGS = (b"\xfe\xff", b"\xff\xfe", b"\x00", b"\x4c\x6f\xa7\x94", b"\x2b\x2f\x76")


@functools.cache
def _parser(encoding: str) -> etree.XMLParser:
    return etree.XMLParser(
        encoding=encoding,  # over the document's declaration
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


PARSER = _parser("utf-8")


def short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def parse_guarded(
    data: bytes,
    refused: Callable[[str], Exception],
    *,
    max_bytes: int,
    answers_in: str = "UTF-8",
    ns: str | None = None,
) -> Element:
    """The root element of ``data``; ``refused(reason)`` raised for anything else: larger
    than ``max_bytes``, empty, in an encoding other than ``answers_in`` (the one the
    marketplace answers in), a DTD or an entity reference, past the parser's limits (nested
    too deep), not well-formed, its root in another namespace than ``ns`` (where one is
    given)."""
    if len(data) > max_bytes:
        raise refused(f"response larger than {max_bytes} bytes")
    if not data.strip():
        raise refused("empty response")
    said = f"(the marketplace answers in {answers_in})"
    if data.startswith(_OTHER_ENCODINGS) or data[1:2] == b"\x00":
        raise refused(f"not {answers_in} {said}")
    declared = _DECLARED_ENCODING.match(data[:256])
    if declared:
        named = declared.group(1).decode("ascii", "replace")
        if named.lower() != answers_in.lower():
            raise refused(f"declared encoding {short(named, 40)!r} is not {answers_in} {said}")
    prolog = _PROLOG.match(data)
    if data.startswith(b"<!", prolog.end() if prolog else 0):
        raise refused("the response carries a DTD (refused unread)")
    root = _parsed(data, answers_in.lower(), refused)
    refuse_parsed(root, refused)
    if ns is not None and etree.QName(root).namespace != ns:
        raise refused(f"root <{etree.QName(root).localname}> is not in {ns}")
    return root


def _parsed(data: bytes, encoding: str, refused: Callable[[str], Exception]) -> Element:
    """``data`` parsed; when libxml2 finds it not well-formed, parsed once more with each
    character XML does not allow replaced (``mended.xml_mended``): such a character costs
    the item whose text holds it, not the page. Still not well-formed: refused as first."""
    try:
        return etree.fromstring(data, _parser(encoding))
    except etree.XMLSyntaxError as exc:
        if exc.code == etree.ErrorTypes.ERR_RESOURCE_LIMIT:  # the same answer would come again
            raise refused(f"past the XML parser's limits ({short(str(exc))})") from None
        first = f"not well-formed XML ({short(str(exc))})"
    except (ValueError, etree.LxmlError) as exc:
        raise refused(f"not XML ({type(exc).__name__})") from None
    try:
        return etree.fromstring(xml_mended(data, encoding), _parser(encoding))
    except (ValueError, LookupError, etree.LxmlError):
        raise refused(first) from None


def answer_root(
    data: bytes, refused: Callable[[str], Exception], *, max_bytes: int, ns: str | None = None
) -> Element:
    """``parse_guarded`` of an answer the requester reads (``Answers.read``): one cut short
    or not XML is ``Garbled`` (asked again within a read), anything else refused."""

    def refusal(reason: str) -> Exception:
        return Garbled(reason) if garbled(reason) else refused(reason)

    return parse_guarded(data, refusal, max_bytes=max_bytes, ns=ns)


def refuse_parsed(root: Element, refused: Callable[[str], Exception]) -> None:
    """The same guarantee on what libxml2 read, not on the bytes: no document type
    declaration, and no entity reference (unresolved, so never expanded) anywhere."""
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise refused("the response carries a DTD (refused after parsing)")
    if next(root.iter(etree.Entity), None) is not None:
        raise refused("the response holds an entity reference (refused unexpanded)")


def garbled(reason: str) -> bool:
    """Whether ``parse_guarded``'s reason is an answer cut short or not XML at all (a
    server failing mid-answer, worth another try); a DTD, an encoding or a size is not."""
    return reason.startswith(("not well-formed", "not XML", "empty response"))


# --- reading an answer's fields -------------------------------------------------------------

N = TypeVar("N", int, Decimal)
T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)
Moment = datetime  # the type, where Node's method of that name hides it


@functools.cache
def _fields(shape: type[msgspec.Struct]) -> tuple[tuple[str, Callable[[Node], Any]], ...]:
    info = cast(msgspec.inspect.StructType, msgspec.inspect.type_info(shape))
    return tuple((field.name, _reading(field)) for field in info.fields)


def _reading(field: msgspec.inspect.Field) -> Callable[[Node], Any]:
    kind, name, default = field.type, field.encode_name, field.default
    if isinstance(kind, msgspec.inspect.UnionType):  # X | None
        kind = next(k for k in kind.types if not isinstance(k, msgspec.inspect.NoneType))
    if isinstance(kind, msgspec.inspect.VarTupleType) and isinstance(
        kind.item_type, msgspec.inspect.StructType
    ):
        item = kind.item_type.cls
        return lambda node: tuple(child.decode(item) for child in node.all(name))
    read = _attribute(name) if "@" in name else _READINGS.get(type(kind))
    if read is None:  # a field the connector reads itself (``given``)

        def unread(_node: Node) -> Any:
            raise TypeError(f"{field.name}: {kind} is not read from XML; give it")

        return unread
    if not field.required:
        return lambda node: default if (value := read(node, name)) is None else value

    def required(node: Node) -> Any:
        value = read(node, name)
        if value is None:
            raise node.refused(f"<{node.name}> lacks <{name}>")
        return value

    return required


def _attribute(name: str) -> Callable[[Node, str], str | None]:
    """The reading of ``child@attribute`` (``@attribute``: the element's own)."""
    child, _, attribute = name.partition("@")

    def read(node: Node, _name: str) -> str | None:
        element = node.get(child) if child else node.element
        return None if element is None else (element.get(attribute) or None)

    return read


class _OffShape(ValueError):
    """An item's field missing or misshapen, within ``Node.item``."""


@functools.cache
def _qualified(ns: str | None, name: str) -> str:
    return name if ns is None else f"{{{ns}}}{name}"


# xs:dateTime, leniently: hours may have one digit; no zone means UTC.
_DATETIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6})\d*)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)


def parse_datetime(text: str, refused: Callable[[str], Exception], name: str = "date") -> datetime:
    """An xs:dateTime as a marketplace writes it, in UTC; ``refused`` for anything else."""
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        raise refused(f"<{name}> is not a date-time: {short(text, 40)!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=_zone(zone),
        )
    except ValueError:
        raise refused(f"<{name}> is not a date-time: {short(text, 40)!r}") from None
    return moment.astimezone(UTC)


@functools.cache
def _zone(zone: str | None) -> timezone:
    if zone is None or zone == "Z":
        return UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


# --- xml envelope --------------------------------------------------------------------------
# An XML API's status envelope, declared: every answer is one root element in the API's
# namespace whose ``status`` attribute says whether the call was done, beside its
# ``<error code="…" severity="…">text</error>`` children. The kit reads it (the guard above,
# the errors' texts without a secret) into the requester's ``Answers`` and ``Refusals``: a
# refused login is the shop's credentials refused, any other refusal the call refused with
# its status and codes (``StatusEnvelope.CredentialsRefused``, ``.Refused``).


def listed(errors: Sequence[StatusEnvelope.Error], chars: int | None = None) -> str:
    """An answer's errors as a refusal says them: each code and text (``chars`` at most)."""
    return "; ".join(f"{e.code}: {e.text}"[:chars] for e in errors) or "no error given"


def local_name(element: Element) -> str:
    return str(etree.QName(element).localname)


@dataclass(frozen=True, kw_only=True)
class StatusEnvelope:
    """``ns``: the API's namespace; ``unreadable(reason)``: its unreadable answer;
    ``accepting`` and ``refusing``: its statuses (any other is unreadable); ``later``:
    codes asking to come back soon (asked again like a 429); ``token``: codes meaning the
    call's token (so does an error whose text names it); ``per_item``: roots whose
    refusing status with no error of their own leaves each item's errors to the caller;
    ``text_chars``: what is kept of each error's text."""

    # The parts of an answer in this envelope, and the errors a connector subclasses to
    # name its marketplace (``label``).

    class Error(msgspec.Struct, frozen=True):
        """One ``<error severity="…" code="…">text</error>`` of an answer."""

        code: str
        severity: str
        text: str

    class Answer(NamedTuple):
        """An answer as the requester read it: its root, status and errors, and the
        ``redact`` its texts go through."""

        root: Element
        status: str
        errors: Errors
        redact: Callable[[str], str]

    class CredentialsRefused(seam.CredentialsRefused):
        """The login service refused the shop's credentials (wrong, or revoked): ``detail``, or
        its errors, said; their ``codes`` kept. ``label`` names the marketplace."""

        label = "the marketplace"

        def __init__(self, detail: str, errors: Sequence[StatusEnvelope.Error] = ()) -> None:
            said = detail or listed(errors)
            super().__init__(f"{self.label} refused the shop's credentials: {said}")
            self.errors = tuple(errors)
            self.codes = tuple(error.code for error in self.errors)

    class Refused(RequestRefused):
        """A call whose answer's status refused it (or an HTTP status, where no envelope came):
        its ``status``, ``errors`` and their ``codes`` kept. ``label`` names the marketplace."""

        label = "the marketplace"

        def __init__(
            self, service: str, status: str, errors: Sequence[StatusEnvelope.Error]
        ) -> None:
            self.service = service
            self.status = status
            self.errors = tuple(errors)
            self.codes = tuple(error.code for error in self.errors)
            super().__init__(
                f"{self.label} {service} answered {status}: {listed(self.errors, 200)}"
            )

    ns: str
    unreadable: Callable[[str], Exception]
    accepting: frozenset[str]
    refusing: frozenset[str]
    later: frozenset[str] = frozenset()
    token: frozenset[str] = frozenset()
    per_item: frozenset[str] = frozenset()
    text_chars: int = 300
    content_type: str = "text/xml; charset=utf-8"

    def parse(self, data: bytes, *, max_bytes: int) -> Element:
        """The root element of an answer, by the kit's guard (no DTD, no entity, UTF-8
        only, ``max_bytes`` at most, the API's namespace); ``unreadable`` for anything else."""
        return parse_guarded(data, self.unreadable, max_bytes=max_bytes, ns=self.ns)

    def node(self, element: Element) -> Node:
        return Node(element, self.ns, self.unreadable)

    def status(self, root: Element, redact: Callable[[str], str] = str) -> tuple[str, Errors]:
        """The answer's status and its errors (their texts through ``redact``)."""
        status = root.get("status")
        if status is None:
            raise self.unreadable(f"<{local_name(root)}> has no status")
        if status not in self.accepting and status not in self.refusing:
            raise self.unreadable(f"unknown status {status!r}")
        return status, self.errors(self.node(root), redact)

    def errors(self, node: Node, redact: Callable[[str], str] = str) -> Errors:
        """The ``<error>``s of ``node``, without a secret the API may echo, nor anything
        shaped like a token (masked before shortening, so no part of one is left)."""
        return tuple(
            StatusEnvelope.Error(
                code=mask_tokens(error.element.get("code") or ""),
                severity=mask_tokens(error.element.get("severity") or ""),
                text=remote_excerpt(redact(error.element.text or ""), self.text_chars),
            )
            for error in node.all("error")
        )

    def expect_root(self, root: Element, service: str) -> None:
        """The answer of ``service`` is a ``<service>_response``; unreadable otherwise."""
        if local_name(root) != f"{service}_response":
            raise self.unreadable(f"expected <{service}_response>, got <{local_name(root)}>")

    # --- the requester's Answers ------------------------------------------------------------

    def read(
        self, content: bytes, max_bytes: int, redact: Callable[[str], str]
    ) -> StatusEnvelope.Answer:
        root = answer_root(content, self.unreadable, max_bytes=max_bytes, ns=self.ns)
        return StatusEnvelope.Answer(root, *self.status(root, redact), redact)

    def refusal(self, answer: StatusEnvelope.Answer) -> Refusal | None:
        if answer.status not in self.refusing:
            return None
        if local_name(answer.root) in self.per_item and not answer.errors:
            return None
        codes = {error.code for error in answer.errors}
        reason = f"{answer.status} {', '.join(sorted(codes))}".strip()
        return Refusal(reason, later=bool(codes & self.later))

    # --- the requester's Refusals -----------------------------------------------------------

    def refusals(
        self,
        login: str,
        credentials_refused: Callable[[str, Errors], Exception],
        refused: Callable[[str, str, Errors], Exception],
    ) -> Refusals:
        """A 401 or 403 is the credentials' (a token's, renewed once); ``login``: the call
        whose refusal is the credentials' (``credentials_refused(detail, errors)``); any
        other refusal is ``refused(call, status, errors)``."""

        def expired(response: httpx.Response, document: Any) -> bool:
            if not isinstance(document, StatusEnvelope.Answer):
                return response.status_code in (401, 403)
            said = document.errors
            return any(e.code in self.token or "token" in e.text.lower() for e in said)

        def error(call: str, status: int, document: Any) -> Exception:
            if isinstance(document, StatusEnvelope.Answer):
                if call == login:
                    return credentials_refused("", document.errors)
                return refused(call, document.status, document.errors)
            if call == login and status in (401, 403):
                return credentials_refused(f"HTTP {status}", ())
            return refused(call, f"HTTP {status}", ())

        return Refusals(credentials=frozenset({401, 403}), expired=expired, error=error)

    # --- the requester's ApiSpec ------------------------------------------------------------

    def spec(
        self,
        label: str,
        log: logging.Logger,
        *,
        login: str,
        unavailable: Unavailable,
        outcome_unknown: Callable[[str, str], Exception],
        credentials_refused: Callable[[str, Errors], Exception],
        refused: Callable[[str, str, Errors], Exception],
        max_response_bytes: int,
    ) -> ApiSpec:
        """The ``ApiSpec`` of an API answering in this envelope (``label``: its marketplace):
        its answers and ``refusals`` this envelope's, an unreadable answer its
        ``unreadable``, a refusal over HTTP without an envelope ``refused`` with the HTTP
        status (as ``refusals`` says it), a call unavailable or whose outcome is unknown
        ``unavailable`` and ``outcome_unknown``."""
        errors = CallErrors(
            unavailable=unavailable,
            unreadable=lambda _call, reason: self.unreadable(reason),
            outcome_unknown=outcome_unknown,
            refused=lambda call, status, _detail: refused(call, f"HTTP {status}", ()),
            credentials_refused=lambda detail: credentials_refused(detail, ()),
        )
        refusals = self.refusals(login, credentials_refused, refused)
        return ApiSpec(
            label, log, errors, refusals, max_response_bytes=max_response_bytes, answers=self
        )


Errors = tuple[StatusEnvelope.Error, ...]  # an answer's, in its order


# --- an API whose refusals are a document of their own -----------------------------------------


@dataclass(frozen=True, kw_only=True)
class ErrorRoot:
    """An XML API that answers a call with its result's own root, and refuses it with a
    root of its own (``root``) listing ``<error>``s, each said by the texts at ``said``
    (its ``<code>`` first), whatever the namespace. ``later``:
    codes only asking to come back soon (every error's one of them: asked again like a
    429); ``credentials``: codes meaning the shop's credentials; ``errors``: the
    marketplace's ``CallErrors``; ``service``: what an unreadable answer names."""

    class Answer(NamedTuple):
        """An answer of an ``ErrorRoot`` API: its root, what its refusal says (secrets masked),
        and the codes it gave."""

        root: Element
        refused: Refusal | None
        codes: frozenset[str] = frozenset()

        def node(self) -> Node:
            """The root whatever its namespace, a field missing a ValueError."""
            return Node(self.root, None, ValueError)

    root: str
    errors: CallErrors
    service: str
    said: tuple[str, ...] = ("code", "message")
    later: frozenset[str] = frozenset()
    credentials: frozenset[str] = frozenset()
    content_type: str = "text/xml; charset=utf-8"

    # --- the requester's Answers ------------------------------------------------------------

    def read(
        self, content: bytes, max_bytes: int, redact: Callable[[str], str]
    ) -> ErrorRoot.Answer:
        refused = lambda reason: self.errors.unreadable(self.service, reason)  # noqa: E731
        root = answer_root(content, refused, max_bytes=max_bytes)
        if local_name(root) != self.root:
            return ErrorRoot.Answer(root, None)
        errors = Node(root, None, ValueError).all("error")
        codes = [error.text("code") or "" for error in errors]
        said = "; ".join(" ".join(self._texts(error)) for error in errors)
        later = bool(codes) and all(code in self.later for code in codes)
        reason = redact(said or "an error without a reason")
        return ErrorRoot.Answer(root, Refusal(reason, later), frozenset(codes))

    def _texts(self, error: Node) -> list[str]:
        found = (e.element.text for path in self.said for e in error.all(path))
        return [text.strip() for text in found if text and text.strip()]

    def refusal(self, answer: ErrorRoot.Answer) -> Refusal | None:
        return answer.refused

    # --- the requester's Refusals -----------------------------------------------------------

    def error(self, call: str, status: int, document: Any) -> Exception:
        """The refusal as the seam's: the shop's credentials refused (one of their codes,
        or a 401/403 without a document), else the call refused in the API's own words."""
        if isinstance(document, ErrorRoot.Answer) and document.refused is not None:
            if document.codes & self.credentials:
                return self.errors.credentials_refused(f"{call}: {document.refused.reason}")
            return self.errors.refused(call, status, document.refused.reason)
        if status in (401, 403):
            return self.errors.credentials_refused(f"{call}: HTTP {status}")
        return self.errors.refused(call, status, f"HTTP {status}")

    def refusals(self) -> Refusals:
        return Refusals(credentials=frozenset({401, 403}), error=self.error)

    def result(self, answer: ErrorRoot.Answer, root: str, child: str = "response") -> Node:
        """The ``<child>`` of an answer whose root is ``root``; unreadable otherwise."""
        node = answer.node()
        found = node.get(child) if node.name == root else None
        if found is None:
            raise self.errors.unreadable(root, f"expected <{root}> with a <{child}>")
        return Node(found, None, ValueError)


# --- nodes -------------------------------------------------------------------------------------


class Node:
    """An element of namespace ``ns`` (None: whatever its namespace, each child by its
    local name) with its children indexed by local name: one pass over them, however many
    fields are read (a find() per field costs as much as the whole index). A name may be a
    path ("price/amount"). A field missing or in another shape is ``refused`` (the
    marketplace's unreadable answer, given the reason). The envelopes an XML API's answers
    come in are reached through it: ``Node.StatusEnvelope``, ``Node.ErrorRoot``."""

    StatusEnvelope: TypeAlias = StatusEnvelope
    ErrorRoot: TypeAlias = ErrorRoot

    __slots__ = ("_children", "element", "ns", "refused")

    def __init__(
        self, element: Element, ns: str | None, refused: Callable[[str], Exception]
    ) -> None:
        self.element = element
        self.ns = ns
        self.refused = refused
        self._children: dict[str, list[Element]] = {}
        for child in element:
            if isinstance(child.tag, str):  # not a processing instruction
                tag = child.tag if ns is not None else child.tag.rsplit("}", 1)[-1]
                self._children.setdefault(tag, []).append(child)

    @property
    def name(self) -> str:
        return str(etree.QName(self.element).localname)

    def get(self, name: str) -> Element | None:
        found = self._found(name)
        return found[0] if found else None

    def all(self, name: str) -> list[Node]:
        return [Node(child, self.ns, self.refused) for child in self._found(name)]

    def _found(self, path: str) -> list[Element]:
        first, _, rest = path.partition("/")
        found = self._children.get(_qualified(self.ns, first), [])
        if not rest:
            return found
        return [e for parent in found for e in Node(parent, self.ns, self.refused)._found(rest)]

    def item(self, read: Callable[[Node], T]) -> T:
        """This node, an item a page lists, read by ``read``; off its shape, ValueError
        naming it (its ``id`` attribute or its ``<name>_id``) for a listing's reader
        (``seam.read_each``): one item costs only itself, never the page."""
        try:
            return read(Node(self.element, self.ns, _OffShape))
        except _OffShape as exc:
            ident = self.element.get("id") or self.text(f"{self.name}_id") or "?"
            raise ValueError(f"{self.name} {ident}: {exc}") from None

    def child(self, name: str) -> Node:
        found = self.get(name)
        if found is None:
            raise self.refused(f"<{self.name}> lacks <{name}>")
        return Node(found, self.ns, self.refused)

    def text(self, name: str, *, strip: bool = True) -> str | None:
        """The child's text (CDATA included); None when absent or empty."""
        found = self.get(name)
        if found is None or found.text is None:
            return None
        text = found.text.strip() if strip else found.text
        return text if text.strip() else None

    def required(self, name: str) -> str:
        text = self.text(name)
        if text is None:
            raise self.refused(f"<{self.name}> lacks <{name}>")
        return text

    def int(self, name: str) -> int | None:
        return self._number(name, int, "an integer")

    def decimal(self, name: str) -> Decimal | None:
        return self._number(name, Decimal, "a number")

    def decode(self, shape: type[S], **given: Any) -> S:
        """This element read into ``shape`` (a msgspec Struct), each field from the child
        of its name (its ``msgspec.field(name=…)`` where the connector's name is another)
        by its type: text (``str``), ``int``, ``Decimal`` or ``datetime`` (this class's
        readings), a tuple of Structs from every child of that name; a name ``child@x`` is
        the child's attribute ``x`` (``@x``: the element's own), a text. A child or
        attribute absent or empty is the field's default; a field without one is required
        (missing: refused, as ``required``). ``given``: the fields the connector read
        itself (a text kept unstripped, a value in its own words)."""
        read = {name: read(self) for name, read in _fields(shape) if name not in given}
        return shape(**read, **given)

    def datetime(self, name: str) -> Moment | None:
        text = self.text(name)
        return None if text is None else parse_datetime(text, self.refused, name)

    def required_datetime(self, name: str) -> Moment:
        return parse_datetime(self.required(name), self.refused, name)

    def _number(self, name: str, kind: Callable[[str], N], what: str) -> N | None:
        text = self.text(name)
        try:
            return None if text is None else kind(text)
        except (ValueError, ArithmeticError):  # decimal's InvalidOperation is one
            raise self.refused(f"<{name}> is not {what}") from None


# --- an item's fields declared: a Struct decoded from its element ----------------------------


# A field's reading by its type (``decode``): Node's reading of that type.
_READINGS: dict[type, Callable[[Node, str], Any]] = {
    msgspec.inspect.StrType: Node.text,
    msgspec.inspect.IntType: Node.int,
    msgspec.inspect.DecimalType: Node.decimal,
    msgspec.inspect.DateTimeType: Node.datetime,
}
