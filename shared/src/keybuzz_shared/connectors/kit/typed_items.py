"""A page's items kept as the marketplace's bytes until each is read: a page decoded with
its list as ``list[msgspec.Raw]`` (the requester's ``shape``) holds each item's own bytes,
and each is decoded into the connector's type alone. An item off its shape costs that item,
said, never the page, and no JSON value stands between the bytes and the type of an item
on its shape. A page whose document was read item by item already (XML: ``Node.each``)
hands its items and why the others were left out on together (``with_unread``,
``map_each``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec

from keybuzz_shared.connectors.kit.listing import Read
from keybuzz_shared.connectors.seam import read_each
from keybuzz_shared.mended import json_decoded

T = TypeVar("T")


def decoded(raw: msgspec.Raw | bytes, shape: type[T], what: str) -> T:
    """One item's bytes as ``shape``; ValueError naming ``what`` when they are not one.
    Bytes the typed decoder refuses are read once more as a JSON value before they are
    judged: a key given twice is then read as its last value, as JSON decoders read it
    (the typed decoder judges each value, a bogus first one included)."""
    try:
        return json_decoded(raw, shape)
    except msgspec.ValidationError:
        pass
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ValueError(f"{what} off its shape: {str(exc)[:200]}") from None
    try:
        return msgspec.convert(json_decoded(raw), shape)
    except (msgspec.DecodeError, RecursionError) as exc:  # ValidationError is a DecodeError
        raise ValueError(f"{what} off its shape: {str(exc)[:200]}") from None


def decode_each(shape: type[T], what: str) -> Read[T]:
    """A listing's ``Read`` of a page's raw items, each ``decoded`` into ``shape`` alone."""

    def read(raw: Sequence[Any]) -> tuple[tuple[T, ...], tuple[str, ...]]:
        return read_each(raw, lambda item: decoded(item, shape, what))

    return read


class Unread(str):
    """An item a page's document listed that could not be read: why, with its id."""


def with_unread(items: Sequence[Any], unreadable: Sequence[str]) -> list[Any]:
    """A page's items read from its document and, after them, why each other one could
    not be: a listing's raw items, for ``map_each``."""
    return [*items, *map(Unread, unreadable)]


def mapped(map_one: Callable[[Any], T]) -> Callable[[Any], T]:
    """``map_one`` of a ``with_unread`` item; ValueError (why) for an ``Unread`` one."""

    def mapped_one(item: Any) -> T:
        if isinstance(item, Unread):
            raise ValueError(str(item))
        return map_one(item)

    return mapped_one


def map_each(map_one: Callable[[Any], T]) -> Read[T]:
    """A listing's ``Read`` of ``with_unread`` items: each mapped, each ``Unread`` one said."""
    return lambda raw: read_each(raw, mapped(map_one))
