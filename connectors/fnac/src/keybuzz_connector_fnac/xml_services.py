"""Fnac's API, whose every call is one service: ``POST <api>/<service>`` of a document
``<service>`` in the API's namespace holding the service's query, a msgspec Struct
written here (``request``), answered ``<service>_response`` in the API's status envelope
(the kit's ``StatusEnvelope``, the spec's ``answers``). The shop's own credentials (a
Struct, written as the login service's query) are traded at the login service for a
token (the kit's ``LoginToken``) that every later request carries as its root's
attributes. A page of a listing is bounded by the page asked: its answer's bytes in
proportion, and a page listing more items than asked refused, never cut (the next pages
would skip or repeat some).

A request's Struct is written as ``xml_answers.decode`` reads an answer into one: each
field under its name (its ``msgspec.field(name=…)`` where the connector's name is
another), in the order the fields are declared, which is the order the API's schema puts
them in. A name ``@x`` is an attribute of the element the Struct is written as, ``.`` its
text; ``a/b`` writes the value as ``b`` within an ``a`` (a list's wrapper element). A tuple
is one child per item, a Struct a child of its own content; a field that is None or an
empty tuple is left out, its wrapper too. A number is written in its decimal form, an
instant in UTC with its offset (``xml_instant``), any other value as its text, each
character XML 1.0 cannot hold replaced (``xml_text``). ``carried`` is what an API that
keeps its messages in XML stores of a text."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeAlias, TypeVar, Unpack

import httpx
import msgspec
from keybuzz_shared.connectors.kit import ApiSpec, HeaderAuth, Node, Redacted, Requester
from keybuzz_shared.mended import NOT_XML_CHARS
from lxml import etree

G = TypeVar("G")  # what the login grants: the token and what comes with it
P = TypeVar("P")  # a page as the connector reads it

# --- requests ------------------------------------------------------------------------------

# A child: its name and its text or its children (None: no such child), and its attributes.
Child: TypeAlias = (
    "tuple[str, str | Sequence[Child | None] | None]"
    " | tuple[str, str | Sequence[Child | None] | None, Mapping[str, str]]"
)
# What a pasted soft line break (U+000B) or page break (U+000C) stands for.
_LINE_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})
_ATTRIBUTE, _TEXT, _CHILD = 0, 1, 2


def xml_text(text: str) -> str:
    """``text`` with each character XML 1.0 cannot hold (control characters, lone
    surrogates) replaced by U+FFFD."""
    return NOT_XML_CHARS.sub("\ufffd", text)


def carried(text: str) -> str:
    """``text`` as a message kept in XML carries it: a vertical tab or form feed becomes a
    line end, every other character XML cannot hold is left out (what such an API stores
    and lists back, so a reply is made so before it is sent and compared so when read)."""
    return NOT_XML_CHARS.sub("", text.translate(_LINE_BREAKS))


def xml_instant(moment: datetime) -> str:
    """xs:dateTime with its offset, in UTC, to the second (a naive one is taken as UTC)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.replace(microsecond=0).isoformat()


def request(ns: str, root: str, attributes: Mapping[str, str], declared: msgspec.Struct) -> bytes:
    """The request ``<root>`` in namespace ``ns`` holding ``declared``, after
    ``attributes`` (what the authentication carries)."""
    own, inside = content(declared)
    if isinstance(inside, str):
        raise TypeError(f"<{root}> holds elements, not a text")
    return document(ns, root, {**attributes, **own}, inside)


def content(declared: msgspec.Struct) -> tuple[dict[str, str], str | list[Child]]:
    """The attributes of the element ``declared`` is written as, and its text (a field
    named ``.``) or its children."""
    attributes: dict[str, str] = {}
    children: list[Child] = []
    for field, place, name in _places(type(declared)):
        value = getattr(declared, field)
        if value is None or value == ():
            continue
        if place == _ATTRIBUTE:
            attributes[name] = _text(value)
        elif place == _TEXT:
            return attributes, _text(value)
        else:
            children += _children(name, value)
    return attributes, children


def _children(name: str, value: Any) -> list[Child]:
    outer, _, inner = name.partition("/")
    if inner:
        return [(outer, _children(inner, value))]
    if type(value) is tuple:
        return [child for item in value for child in _children(name, item)]
    if isinstance(value, msgspec.Struct):
        attributes, inside = content(value)
        return [(name, inside, attributes)]
    return [(name, _text(value))]


def _text(value: Any) -> str:
    return xml_instant(value) if isinstance(value, datetime) else str(value)


@functools.cache
def _places(shape: type[msgspec.Struct]) -> tuple[tuple[str, int, str], ...]:
    """Each field's name on the Struct, its place and its name there: attributes first,
    then the text, then the children in their order (an element's attributes are its own
    wherever they are declared)."""
    places = []
    for field in msgspec.structs.fields(shape):
        name = field.encode_name
        if name.startswith("@"):
            places.append((field.name, _ATTRIBUTE, name[1:]))
        elif name == ".":
            places.append((field.name, _TEXT, name))
        else:
            places.append((field.name, _CHILD, name))
    return tuple(sorted(places, key=lambda place: place[1]))


@functools.cache
def _qualified(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def document(
    ns: str, root: str, attributes: Mapping[str, str], children: Sequence[Child | None]
) -> bytes:
    """The request ``<root>`` in namespace ``ns`` (its default), UTF-8 with its XML
    declaration; a child that is None, or whose content is None, is left out."""
    element = etree.Element(_qualified(ns, root), attrib=dict(attributes), nsmap={None: ns})
    _add(element, ns, children)
    return bytes(etree.tostring(element, xml_declaration=True, encoding="utf-8"))


def _add(parent: etree._Element, ns: str, children: Sequence[Child | None]) -> None:
    for child in children:
        if child is None:
            continue
        name, content, *attributes = child
        if content is None:
            continue
        element = etree.SubElement(parent, _qualified(ns, name), attrib=dict(*attributes))
        if isinstance(content, str):
            element.text = xml_text(content)
        else:
            _add(element, ns, content)


# --- the services --------------------------------------------------------------------------


class XmlServices(Requester, Generic[G]):
    """One shop's services on ``base_url``: ``login``, the service trading ``credentials``
    for a grant (``grant``: read from its answer; ``token``: the grant's token); ``carry``:
    what a request's root carries of the token. No error quotes the ``SECRETS`` of
    ``credentials`` (a ``Redacted`` Struct: the shop's key) nor the token. ``authenticate``
    (the kit's) logs in now and gives the grant."""

    def __init__(
        self,
        spec: ApiSpec,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        login: str,
        credentials: msgspec.Struct,
        grant: Callable[[etree._Element], G],
        token: Callable[[G], str],
        carry: Callable[[str], dict[str, str]],
        shop: Mapping[str, str] | None = None,
        **options: Unpack[Requester.Options],
    ) -> None:
        if not isinstance(spec.answers, Node.StatusEnvelope):
            raise TypeError(f"{spec.label}'s services answer in a StatusEnvelope")
        self.envelope = spec.answers
        named = credentials.SECRETS if isinstance(credentials, Redacted) else frozenset()
        secrets = [getattr(credentials, name) for name in named]

        async def log_in() -> G:
            return grant((await self.service(login, credentials, login=True)).root)

        self.tokens = HeaderAuth.LoginToken(log_in, token, carry=carry, secrets=secrets)
        super().__init__(spec, self.tokens, http, base_url, shop=shop, **options)

    async def service(
        self, service: str, asked: msgspec.Struct, **how: Any
    ) -> Node.StatusEnvelope.Answer:
        """``service``'s answer to ``asked``, accepted by its envelope (``how``: the
        requester's ``post_document`` options: ``idempotent``, ``max_bytes``)."""
        body = functools.partial(request, self.envelope.ns, service, declared=asked)
        answer: Node.StatusEnvelope.Answer = await self.post_document(service, body, **how)
        self.envelope.expect_root(answer.root, service)
        return answer

    async def page(
        self,
        service: str,
        asked: msgspec.Struct,
        read: Callable[[etree._Element], P],
        *,
        size: int,
        listed: Callable[[P], int],
        what: str,
        each_bytes: int,
        envelope_bytes: int,
    ) -> P:
        """One page of at most ``size`` items (``what``, "messages") read by ``read``,
        its answer at most ``envelope_bytes`` and ``each_bytes`` an item; ``listed``: how
        many items the page lists, those left out unread included."""
        cap = min(envelope_bytes + size * each_bytes, self._max_bytes)
        page = read((await self.service(service, asked, max_bytes=cap)).root)
        if (count := listed(page)) > size:
            self.spec.log.warning(
                "%s listed more %s than asked; page refused",
                self.spec.label,
                what,
                extra={**self._shop(), "listed": count, "asked": size},
            )
            reason = f"{count} {what} listed, {size} asked for the page"
            raise self.spec.errors.unreadable(service, reason)
        return page
