"""An XML API's request declared as a msgspec Struct, as ``xml_answers.decode`` reads an
answer into one: each field is written under its name (its ``msgspec.field(name=…)``
where the connector's name is another), in the order the fields are declared, which is
the order the API's schema puts them in. A name ``@x`` is an attribute of the element the
Struct is written as, ``.`` its text; ``a/b`` writes the value as ``b`` within an ``a``
(a list's wrapper element). A tuple is one child per item, a Struct a child of its own
content; a field that is None or an empty tuple is left out, its wrapper too. A number is
written in its decimal form, an instant as ``xml_instant`` writes it, any other value as
its text (``xml_requests.document`` keeps only what XML can hold)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from keybuzz_connector_fnac.xml_requests import Child, document, xml_instant


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


_ATTRIBUTE, _TEXT, _CHILD = 0, 1, 2


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
