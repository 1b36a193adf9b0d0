"""A marketplace's refusals as a table: which statuses mean the shop's credentials are
refused, which answers mean "held, come back later" although they are 4xx (a firewall's
challenge), which say the call's token expired, where its error document says why, and the
marketplace's own error for a refusal where it words them itself. The requester reads a refusal with it;
whatever the table does not name is the call refused, the same call refused again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import httpx

# Where a marketplace's error document says why, most often: RFC 9457's ``detail`` and
# ``title``, OAuth's ``error_description`` and ``error``, a plain ``message``, and a list
# of ``errors`` (its first one's ``code`` or ``message``).
COMMON_REASON_KEYS = ("detail", "message", "error_description", "title", "error", "errors")


class Held(NamedTuple):
    """A refusal that says nothing of the call or the credentials: the shop is held for
    ``seconds`` and the same call tried again then."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class Refusals:
    """How a marketplace refuses: ``credentials``, the statuses that mean the shop's
    credentials (after a token renewed once, where the authentication has one);
    ``held``, the answers that only hold the shop (given the response and its error
    document, None for any other); ``reason_keys``, where its document says why;
    ``expired``, the answers beside a 401 that say the call's token expired (renewed once,
    the call sent once more); ``error``, the marketplace's own error for a refusal, given
    the call's name, the status and the document (its code and message kept), in place
    of the seam's call refused."""

    credentials: frozenset[int] = frozenset({401})
    held: Callable[[httpx.Response, Any], Held | None] | None = None
    reason_keys: tuple[str, ...] = COMMON_REASON_KEYS
    expired: Callable[[httpx.Response, Any], bool] | None = None
    error: Callable[[str, int, Any], Exception] | None = None

    def reason(self, document: Any) -> str:
        """The first reason the document gives under ``reason_keys`` ("" for none): a
        text, an object's ``message``, or a list's first entry's ``code`` or ``message``."""
        if not isinstance(document, dict):
            return ""
        for key in self.reason_keys:
            if said := _said(document.get(key)):
                return said
        return ""


def _said(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return _coded(value.get("code"), str(value["message"]))
    if isinstance(value, list) and value and isinstance(value[0], dict):
        first = value[0]
        return str(first.get("code") or first.get("message") or "").strip()
    return ""


def _coded(code: Any, message: str) -> str:
    """An error object's message, after its code where it has one (``unauthenticated:
    Guest user not allowed``): what an operator looks up in the marketplace's docs."""
    message = message.strip()
    if isinstance(code, str | int) and str(code).strip() and str(code) not in message:
        return f"{str(code).strip()}: {message}"
    return message
