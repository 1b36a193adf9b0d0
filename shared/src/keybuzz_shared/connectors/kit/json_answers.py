"""JSON answers read into a connector's Structs: a page's reader, one item read, the instants and names as APIs write them, paths under a base URL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec

from keybuzz_shared.connectors.seam import AnswerUnreadable, read_each
from keybuzz_shared.mended import json_decoded
from keybuzz_shared.times import as_utc

# --- wire ----------------------------------------------------------------------------------
# A marketplace's JSON read into the connector's wire models (msgspec Structs holding only
# the fields it maps): one item (``read_as``) or a page's items (``reader``). A page decoded
# with its list as ``list[msgspec.Raw]`` (the requester's ``shape``) keeps each item's own
# bytes, each decoded into the model alone: an item off its shape costs that item, said,
# never the page. Beside them, the small forms every JSON API's calls share: an id as one
# path segment, the accounts an answer names, an instant as ISO 8601 in UTC, a person's
# name in its two parts however its marketplace spells them (``PersonName``).

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


def read_as(kind: type[T], item: Any, what: str, *, call: str | None = None) -> T:
    """``item`` as a ``kind``; ValueError "<what> off its shape: …" when it is not one.
    An item still in its bytes (a page's ``msgspec.Raw``) is ``decoded`` from them.
    ``call``: ``item`` is that call's whole answer, one off its shape costing the call (the
    seam's ``AnswerUnreadable`` "<call> answered no <what>: …"), not an item."""
    if isinstance(item, msgspec.Raw | bytes):
        return decoded(item, kind, what)
    try:
        return msgspec.convert(item, kind)
    except msgspec.ValidationError as exc:
        if call is not None:
            raise AnswerUnreadable(f"{call} answered no {what}: {exc}") from None
        raise ValueError(f"{what} off its shape: {exc}") from None


def reader(
    kind: type[T], what: str
) -> Callable[[Sequence[Any]], tuple[tuple[T, ...], tuple[str, ...]]]:
    """A page's items read as ``kind`` (a listing's ``Read``): those read, and why each
    other one could not be."""
    return lambda raw: read_each(raw, lambda item: read_as(kind, item, what))


def named_in(items: Any, key: str, kinds: tuple[type, ...] = (int, str)) -> list[Any]:
    """The ``key`` of each item of an answer's list that has one of ``kinds`` (an account a
    credential check's answer names); none for an answer that is no list."""
    listed = items if isinstance(items, list) else []
    return [i[key] for i in listed if isinstance(i, dict) and isinstance(i.get(key), kinds)]


def segment(value: str) -> str | None:
    """``value`` as one segment of a path (quoted); None for one that would name another
    path (empty, ``.``, ``..``)."""
    return None if value.strip() in ("", ".", "..") else quote(value, safe="")


def path_segment(value: str, what: str = "an id") -> str:
    """``value`` as one segment of a path, where a mapping writes an id into one (a
    file's address); ValueError "… is not ``what``" for one that would name another path."""
    found = segment(value)
    if found is None:
        raise ValueError(f"{value!r} is not {what}")
    return found


def iso_z(moment: datetime, unit: str = "auto") -> str:
    """``moment`` in UTC as ISO 8601, "Z" for its zone; ``unit``: ``isoformat``'s
    ``timespec``, the smaller units cut, not rounded (default: its fraction of a second kept)."""
    return as_utc(moment).isoformat(timespec=unit).replace("+00:00", "Z")


def full_name(first: str | None, last: str | None) -> str | None:
    """A person's name from its two parts, either missing or empty; None without both."""
    return " ".join(n for n in (first, last) if n) or None


class PersonName(msgspec.Struct, frozen=True):
    """A person (an order's or a folder's buyer) as its marketplace spells the two parts:
    ``firstName``/``lastName``, ``firstname``/``lastname`` or ``first_name``/``last_name``,
    either missing; ``full``: the name."""

    first_camel: str | None = msgspec.field(name="firstName", default=None)
    last_camel: str | None = msgspec.field(name="lastName", default=None)
    first_lower: str | None = msgspec.field(name="firstname", default=None)
    last_lower: str | None = msgspec.field(name="lastname", default=None)
    first_snake: str | None = msgspec.field(name="first_name", default=None)
    last_snake: str | None = msgspec.field(name="last_name", default=None)

    @property
    def full(self) -> str | None:
        first = self.first_camel or self.first_lower or self.first_snake
        return full_name(first, self.last_camel or self.last_lower or self.last_snake)
