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
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, Unpack

import httpx
import msgspec
from keybuzz_shared.connectors.kit import ApiSpec, HeaderAuth, Node, Redacted, Requester
from keybuzz_shared.mended import NOT_XML_CHARS
from lxml import etree

G = TypeVar("G")  # what the login grants: the token and what comes with it
P = TypeVar("P")  # a page as the connector reads it

# --- requests ------------------------------------------------------------------------------
# What a pasted soft line break (U+000B) or page break (U+000C) stands for.
_LINE_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})


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
    """The request ``<root>`` in namespace ``ns`` (its default, no prefix) holding
    ``declared``, after ``attributes`` (what the authentication carries): UTF-8 with its
    XML declaration."""
    element = etree.Element(f"{{{ns}}}{root}", attrib=dict(attributes), nsmap={None: ns})
    if _write(element, declared):
        raise TypeError(f"<{root}> holds elements, not a text")
    return bytes(etree.tostring(element, xml_declaration=True, encoding="utf-8"))


def _write(element: etree._Element, declared: msgspec.Struct) -> bool:
    """``declared`` written into ``element``: its attributes, its text or its children
    (a field None or an empty tuple left out); whether it wrote a text."""
    text = False
    for field in _fields(type(declared)):
        value, name = getattr(declared, field.name), field.encode_name
        if value is None or value == ():
            continue
        if name.startswith("@"):
            element.set(name[1:], _text(value))
        elif name == ".":
            element.text, text = xml_text(_text(value)), True
        else:
            _child(element, name, value)
    return text


def _child(parent: etree._Element, name: str, value: Any) -> None:
    """``value`` as ``name`` children of ``parent`` (``a/b``: within one ``a``): one per
    item of a tuple, a Struct its own content."""
    ns = etree.QName(parent).namespace
    outer, _, inner = name.partition("/")
    if inner:
        return _child(etree.SubElement(parent, f"{{{ns}}}{outer}"), inner, value)
    for item in value if type(value) is tuple else (value,):
        element = etree.SubElement(parent, f"{{{ns}}}{name}")
        if isinstance(item, msgspec.Struct):
            _write(element, item)
        else:
            element.text = xml_text(_text(item))
    return None


_fields = functools.cache(msgspec.structs.fields)


def _text(value: Any) -> str:
    return xml_instant(value) if isinstance(value, datetime) else str(value)


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
