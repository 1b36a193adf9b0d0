"""Keyset pagination, one rule for every list endpoint (orders, tickets).

A list is read ``limit + 1`` rows at a time, newest first by ``(moment, id)``;
the extra row only says whether a next page exists. ``nextCursor`` names the
last row of the page and is ``null`` when the page is the last one, including
a last page that is exactly full.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

import msgspec

T = TypeVar("T")


class InvalidCursor(ValueError):
    """A cursor this API did not hand out (tampered, truncated, from another list)."""

    def __init__(self) -> None:
        super().__init__("cursor is not one this API returned")


class Position(msgspec.Struct, array_like=True, frozen=True):
    """Where a page ended: the last row's sort moment and id."""

    at: datetime
    id: str


def split_page(rows: Sequence[T], limit: int) -> tuple[list[T], T | None]:
    """Rows read with ``limit + 1`` → (the page, its last row if another page follows)."""
    page = list(rows[:limit])
    return page, (page[-1] if len(rows) > limit and page else None)


def encode_cursor(at: datetime, row_id: str) -> str:
    raw = msgspec.json.encode(Position(at, str(row_id)))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, id_check: Callable[[str], str] | None = None) -> Position:
    """The position a cursor names; ``id_check`` normalises the id or raises ``ValueError``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = msgspec.json.decode(raw, type=Position)
        if position.at.tzinfo is None or not position.id:
            raise ValueError("incomplete position")
        return Position(position.at, id_check(position.id)) if id_check else position
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidCursor from None
