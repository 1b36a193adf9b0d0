"""XML answers: the guarded parse, elements decoded into Structs, and the envelopes an XML
API's answers come in."""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple, TypeAlias, TypeVar, cast

import httpx
import msgspec
from lxml import etree

from keybuzz_shared.connectors import seam
from keybuzz_shared.connectors.kit.auth import CallErrors
from keybuzz_shared.connectors.kit.requester import ApiSpec, Garbled, Refusal, Refusals
from keybuzz_shared.connectors.seam import RequestRefused
from keybuzz_shared.mended import xml_mended
from keybuzz_shared.redaction import mask_tokens, remote_excerpt

# No entity is ever declared, expanded or fetched, by three locks: another encoding than
# the marketplace's refused unread and every document read in its one, whatever it declares
# (a DTD in UTF-7 stays text), a DTD in the prolog refused before libxml2 sees it, and the
# parsed tree checked again. lxml: 4-5x faster than defusedxml (docs/BENCHMARKS.md), its
# limits kept (huge-tree mode off: nested 256 deep at most).

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
    garbled: Callable[[str], Exception] | None = None,
) -> Element:
    """The root element of ``data``; ``refused(reason)`` for anything else, ``garbled``'s
    (where given) for an answer cut short or not XML: a server failing mid-answer."""
    cut = garbled or refused
    if len(data) > max_bytes:
        raise refused(f"response larger than {max_bytes} bytes")
    if not data.strip():
        raise cut("empty response")
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
    root = _parsed(data, answers_in.lower(), refused, cut)
    refuse_parsed(root, refused)
    if ns is not None and etree.QName(root).namespace != ns:
        raise refused(f"root <{etree.QName(root).localname}> is not in {ns}")
    return root


def _parsed(
    data: bytes,
    encoding: str,
    refused: Callable[[str], Exception],
    cut: Callable[[str], Exception],
) -> Element:
    """Not well-formed, parsed once more with each character XML does not allow replaced:
    such a character costs the item whose text holds it, not the page."""
    try:
        return etree.fromstring(data, _parser(encoding))
    except etree.XMLSyntaxError as exc:
        if exc.code == etree.ErrorTypes.ERR_RESOURCE_LIMIT:  # the same answer would come again
            raise refused(f"past the XML parser's limits ({short(str(exc))})") from None
        first = f"not well-formed XML ({short(str(exc))})"
    except (ValueError, etree.LxmlError) as exc:
        raise cut(f"not XML ({type(exc).__name__})") from None
    try:
        return etree.fromstring(xml_mended(data, encoding), _parser(encoding))
    except (ValueError, LookupError, etree.LxmlError):
        raise cut(first) from None


def refuse_parsed(root: Element, refused: Callable[[str], Exception]) -> None:
    """The same guarantee on what libxml2 read, not on the bytes."""
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise refused("the response carries a DTD (refused after parsing)")
    if next(root.iter(etree.Entity), None) is not None:
        raise refused("the response holds an entity reference (refused unexpanded)")


# --- reading an answer's fields -------------------------------------------------------------

N = TypeVar("N", int, Decimal)
S = TypeVar("S", bound=msgspec.Struct)


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
    read = Node.attribute if "@" in name else _READINGS.get(type(kind))
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


@functools.cache
def _qualified(ns: str | None, name: str) -> str:
    return name if ns is None else f"{{{ns}}}{name}"


# A field of one digit, not a fraction's ("T9:50:04"): xs:dateTime read leniently.
_ONE_DIGIT = re.compile(r"(?<![\d.,])(\d)(?!\d)")


def parse_datetime(text: str, refused: Callable[[str], Exception], name: str = "date") -> datetime:
    """An instant in UTC, no zone meaning UTC; a date alone is none."""
    padded = _ONE_DIGIT.sub(r"0\1", text.strip())
    try:
        moment = datetime.fromisoformat(padded) if len(padded) > len("yyyy-mm-dd") else None
    except ValueError:
        moment = None
    if moment is None:
        raise refused(f"<{name}> is not a date-time: {short(text, 40)!r}")
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- xml envelope: a root whose ``status`` (or, ``status_at`` None, whose name) says whether
# the call was done, beside its ``<error code="…" severity="…">text</error>`` children ------


def listed(errors: Sequence[StatusEnvelope.Error], chars: int | None = None) -> str:
    return "; ".join(f"{e.code}: {e.text}"[:chars] for e in errors) or "no error given"


def local_name(element: Element) -> str:
    return str(etree.QName(element).localname)


@dataclass(frozen=True, kw_only=True)
class StatusEnvelope:
    """``accepting`` None: any status not refusing; ``later``: codes asking to come back
    soon (with ``all_later``, only when every code is); ``token``: codes meaning the call's
    token (so does an error whose text names it); ``per_item``: roots whose refusing status
    without errors leaves the items' to the caller."""

    class Error(msgspec.Struct, frozen=True):
        code: str
        severity: str
        text: str

    class Answer(NamedTuple):
        root: Element
        status: str
        errors: Errors
        redact: Callable[[str], str]

    class CredentialsRefused(seam.CredentialsRefused):
        """The login refused the shop's credentials (wrong, or revoked)."""

        label = "the marketplace"

        def __init__(self, detail: str, errors: Sequence[StatusEnvelope.Error] = ()) -> None:
            said = detail or listed(errors)
            super().__init__(f"{self.label} refused the shop's credentials: {said}")
            self.errors = tuple(errors)
            self.codes = tuple(error.code for error in self.errors)

    class Refused(RequestRefused):
        """Refused by the answer's status (or an HTTP status, where no envelope came)."""

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

    ns: str | None
    unreadable: Callable[[str], Exception]
    accepting: frozenset[str] | None
    refusing: frozenset[str]
    later: frozenset[str] = frozenset()
    all_later: bool = False
    status_at: str | None = "status"
    error_text: tuple[str, ...] = ()  # children whose texts make an error's (none: its own)
    token: frozenset[str] = frozenset()
    per_item: frozenset[str] = frozenset()
    text_chars: int = 300
    content_type: str = "text/xml; charset=utf-8"

    def parse(self, data: bytes, *, max_bytes: int) -> Element:
        return parse_guarded(data, self.unreadable, max_bytes=max_bytes, ns=self.ns)

    def node(self, element: Element) -> Node:
        return Node(element, self.ns, self.unreadable)

    def status(self, root: Element, redact: Callable[[str], str] = str) -> tuple[str, Errors]:
        status = local_name(root) if self.status_at is None else root.get(self.status_at)
        if status is None:
            raise self.unreadable(f"<{local_name(root)}> has no status")
        accepted = self.accepting is None or status in self.accepting
        if not accepted and status not in self.refusing:
            raise self.unreadable(f"unknown status {status!r}")
        return status, self.errors(self.node(root), redact)

    def errors(self, node: Node, redact: Callable[[str], str] = str) -> Errors:
        """Each code an attribute or a child; without a secret the API may echo, nor anything
        shaped like a token (masked before shortening, so no part of one is left)."""
        return tuple(
            StatusEnvelope.Error(
                code=mask_tokens(error.element.get("code") or error.text("code") or ""),
                severity=mask_tokens(error.element.get("severity") or ""),
                text=remote_excerpt(redact(self._text(error)), self.text_chars),
            )
            for error in node.all("error")
        )

    def _text(self, error: Node) -> str:
        if not self.error_text:
            return error.element.text or ""
        found = (e.element.text or "" for path in self.error_text for e in error.all(path))
        return " ".join(text.strip() for text in found if text.strip())

    def expect_root(self, root: Element, service: str) -> None:
        if local_name(root) != f"{service}_response":
            raise self.unreadable(f"expected <{service}_response>, got <{local_name(root)}>")

    # --- the requester's Answers ------------------------------------------------------------

    def read(
        self, content: bytes, max_bytes: int, redact: Callable[[str], str]
    ) -> StatusEnvelope.Answer:
        root = parse_guarded(
            content, self.unreadable, max_bytes=max_bytes, ns=self.ns, garbled=Garbled
        )
        return StatusEnvelope.Answer(root, *self.status(root, redact), redact)

    def refusal(self, answer: StatusEnvelope.Answer) -> Refusal | None:
        if answer.status not in self.refusing:
            return None
        if local_name(answer.root) in self.per_item and not answer.errors:
            return None
        codes = {error.code for error in answer.errors}
        reason = f"{answer.status} {', '.join(sorted(codes))}".strip()
        later = codes <= self.later if self.all_later else codes & self.later
        return Refusal(reason, later=bool(codes) and bool(later))

    # --- the requester's ApiSpec ------------------------------------------------------------

    def spec(
        self,
        label: str,
        log: logging.Logger,
        *,
        login: str,
        credentials_refused: Callable[[str, Errors], Exception],
        refused: Callable[[str, str, Errors], Exception],
        max_response_bytes: int,
    ) -> ApiSpec:
        """``label``'s errors, the answers' own: a 401 or 403 is the credentials' (a token's,
        renewed once); ``login``'s refusal too."""

        def expired(response: httpx.Response, document: Any) -> bool:
            if not isinstance(document, StatusEnvelope.Answer):
                return response.status_code in (401, 403)
            return any(e.code in self.token or "token" in e.text.lower() for e in document.errors)

        def error(call: str, status: int, document: Any) -> Exception:
            if isinstance(document, StatusEnvelope.Answer):
                if call == login:
                    return credentials_refused("", document.errors)
                return refused(call, document.status, document.errors)
            if call == login and status in (401, 403):
                return credentials_refused(f"HTTP {status}", ())
            return refused(call, f"HTTP {status}", ())

        errors = dataclasses.replace(
            CallErrors.labelled(label),
            unreadable=lambda _call, reason: self.unreadable(reason),
            refused=lambda call, status, _detail: refused(call, f"HTTP {status}", ()),
            credentials_refused=lambda detail: credentials_refused(detail, ()),
        )
        refusals = Refusals(credentials=frozenset({401, 403}), expired=expired, error=error)
        return ApiSpec(
            label, log, errors, refusals, max_response_bytes=max_response_bytes, answers=self
        )


Errors = tuple[StatusEnvelope.Error, ...]  # an answer's, in its order


class Node:
    """An element (``ns`` None: children by local name), its children indexed in one pass
    (a find() per field costs as much as the whole index); a name may be a path
    ("price/amount"); a field missing or misshapen is ``refused``."""

    StatusEnvelope: TypeAlias = StatusEnvelope

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

    def child(self, name: str) -> Node:
        found = self.get(name)
        if found is None:
            raise self.refused(f"<{self.name}> lacks <{name}>")
        return Node(found, self.ns, self.refused)

    def text(self, name: str, *, strip: bool = True) -> str | None:
        found = self.get(name)
        if found is None or found.text is None:
            return None
        text = found.text.strip() if strip else found.text
        return text if text.strip() else None

    def attribute(self, name: str) -> str | None:
        """``child@x``'s ``x`` (``@x``: its own)."""
        child, _, attribute = name.partition("@")
        element = self.get(child) if child else self.element
        return None if element is None else (element.get(attribute) or None)

    def required(self, name: str) -> str:
        text = self.text(name)
        if text is None:
            raise self.refused(f"<{self.name}> lacks <{name}>")
        return text

    def decode(self, shape: type[S], **given: Any) -> S:
        """Each field from the child of its (encoded) name by its type, a tuple of Structs
        from every such child, ``child@x`` an attribute (``@x``: its own); absent or empty,
        its default, else refused. ``given``: fields the connector read itself."""
        read = {name: read(self) for name, read in _fields(shape) if name not in given}
        return shape(**read, **given)

    def required_datetime(self, name: str) -> datetime:
        return parse_datetime(self.required(name), self.refused, name)

    def _number(self, name: str, kind: Callable[[str], N], what: str) -> N | None:
        text = self.text(name)
        try:
            return None if text is None else kind(text)
        except (ValueError, ArithmeticError):  # decimal's InvalidOperation is one
            raise self.refused(f"<{name}> is not {what}") from None


# A field's reading by its type (``decode``).
_READINGS: dict[type, Callable[[Node, str], Any]] = {
    msgspec.inspect.StrType: Node.text,
    msgspec.inspect.IntType: lambda node, name: node._number(name, int, "an integer"),
    msgspec.inspect.DecimalType: lambda node, name: node._number(name, Decimal, "a number"),
    msgspec.inspect.DateTimeType: lambda node, name: (
        None if (text := node.text(name)) is None else parse_datetime(text, node.refused, name)
    ),
}
