"""An XML API's requests, declared: a document is its root's name, its attributes and its
children, each child a ``Child`` (its name, its text or its own children, its attributes),
all in the API's namespace; a child that is None, or whose content is None, is left out,
so that a request's optional fields are written where the schema puts them. Every text is one XML 1.0 can
hold (``xml_text``); an instant is written in UTC with its offset (``xml_instant``).
``carried`` is what an API that keeps its messages in XML stores of a text."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeAlias

from lxml import etree

# A child: its name and its text or its children (None: no such child), and its attributes.
Child: TypeAlias = (
    "tuple[str, str | Sequence[Child | None] | None]"
    " | tuple[str, str | Sequence[Child | None] | None, Mapping[str, str]]"
)

# Characters an XML 1.0 document cannot hold (C0 controls but tab and line ends, U+FFFE,
# U+FFFF, lone surrogates).
NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
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


@functools.cache
def _qualified(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def document(
    ns: str, root: str, attributes: Mapping[str, str], children: Sequence[Child | None]
) -> bytes:
    """The request ``<root>`` in namespace ``ns`` (its default), UTF-8 with its XML
    declaration."""
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
