"""Fnac's requests: every call is one service, ``POST <api>/<service>`` of a document
``<service>`` in the API's namespace holding the service's query, a msgspec Struct
written here (``request``; the login service's query is the shop's credentials).

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
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from keybuzz_shared.mended import NOT_XML_CHARS
from lxml import etree

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
