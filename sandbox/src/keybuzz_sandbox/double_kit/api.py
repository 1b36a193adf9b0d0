"""What a shop-API double's operations share: the answer an operation gives, the refusal it
raises (its routes turn it into the marketplace's error body), the query readers every
marketplace spells alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


class Refused(Exception):
    """An operation's refusal: the HTTP status and the marketplace's words for it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Answer(msgspec.Struct, frozen=True):
    status: int
    payload: Any = None  # JSON, or bytes served as ``media_type``
    headers: dict[str, str] = {}
    media_type: str = "application/json"


def query_bool(query: Mapping[str, str], name: str) -> bool | None:
    """A true/false query parameter (any case); None when absent; Refused 400 otherwise."""
    raw = query.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise Refused(400, f"{name} must be true or false")
    return raw.lower() == "true"


def query_read(
    query: Mapping[str, str], name: str, read: Callable[[str], T], refused: Exception
) -> T | None:
    """The query parameter ``name`` as ``read`` makes it (its ValueError: ``refused``
    raised, the marketplace's words for a bad value); None when absent."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return read(raw)
    except ValueError:
        raise refused from None
