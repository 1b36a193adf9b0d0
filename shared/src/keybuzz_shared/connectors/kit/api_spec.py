"""What a connector declares of its marketplace's API for the requester (requester.py):
declarations only, the requester runs the calls."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import httpx

from keybuzz_shared.connectors.seam import (
    CallAnswerUnreadable,
    CallOutcomeUnknown,
    CallRefused,
    CallUnavailable,
    ShopCredentialsRefused,
)
from keybuzz_shared.json_calls import CallTerms, Unavailable
from keybuzz_shared.redaction import mask_tokens, remote_excerpt

# --- answers of an API that does not speak JSON: an envelope that refuses is read by the
# ``Refusals`` like a refusal over HTTP; one asking to come back soon, like a 429 -----------


class Garbled(Exception):
    """A server failing mid-answer: a read asks again, a send's outcome is unknown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Answers(Protocol):
    """How a marketplace's documents are read."""

    @property
    def content_type(self) -> str: ...  # its requests' (its media type is asked for)

    def read(self, content: bytes, max_bytes: int, redact: Callable[[str], str]) -> Any:
        """``Garbled`` for an answer cut short, unreadable for any other (a DTD)."""
        ...

    def refusal(self, document: Any) -> Refusal | None: ...


# --- refusals: what the table does not name is the call refused -----------------------------

# Where an error document says why, most often: RFC 9457, OAuth, a message, a list.
COMMON_REASON_KEYS = ("detail", "message", "error_description", "title", "error", "errors")


@dataclass(frozen=True)
class Refusals:
    """``credentials``: statuses meaning the shop's credentials (after a token renewed once);
    ``held``: 4xx answers that only hold the shop (a firewall's challenge); ``expired``:
    answers beside a 401 saying the token expired; ``error``: the marketplace's own error
    in place of the seam's call refused."""

    class Refusal(NamedTuple):
        """What an API's ``Answers`` make of an answer that refuses."""

        reason: str
        later: bool = False

    class Held(NamedTuple):
        seconds: float
        reason: str

        @classmethod
        def said(
            cls, status: int, field: str, value: str, seconds: float, reason: str
        ) -> Callable[[httpx.Response, Any], Refusals.Held | None]:
            """``held`` as data: ``status`` and the document's ``field`` at ``value``."""

            def held(response: httpx.Response, document: Any) -> Refusals.Held | None:
                said = document.get(field) if isinstance(document, dict) else None
                matched = (response.status_code, said) == (status, value)
                return cls(seconds, reason) if matched else None

            return held

    credentials: frozenset[int] = frozenset({401})
    held: Callable[[httpx.Response, Any], Refusals.Held | None] | None = None
    reason_keys: tuple[str, ...] = COMMON_REASON_KEYS
    expired: Callable[[httpx.Response, Any], bool] | None = None
    error: Callable[[str, int, Any], Exception] | None = None

    def reason(self, document: Any) -> str:
        """The first reason under ``reason_keys`` ("" for none)."""
        if not isinstance(document, dict):
            return ""
        for key in self.reason_keys:
            if said := _said(document.get(key)):
                return said
        return ""


Refusal = Refusals.Refusal


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
    """The code before the message: what an operator looks up in the marketplace's docs."""
    message = message.strip()
    if isinstance(code, str | int) and str(code).strip() and str(code) not in message:
        return f"{str(code).strip()}: {message}"
    return message


# --- the API -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallErrors:
    """A marketplace's seam errors, each given the call's name and what happened."""

    unavailable: Unavailable
    unreadable: Callable[[str, str], Exception]
    outcome_unknown: Callable[[str, str], Exception]
    refused: Callable[[str, int, str], Exception]  # call, status, detail
    credentials_refused: Callable[[str], Exception]  # detail

    @classmethod
    def labelled(cls, label: str, *, credentials: str = "credentials") -> CallErrors:
        """``credentials``: what a refusal says was refused ("token", "API key")."""
        return cls(
            unavailable=functools.partial(CallUnavailable, label=label),
            unreadable=functools.partial(CallAnswerUnreadable, label=label),
            outcome_unknown=functools.partial(CallOutcomeUnknown, label=label),
            refused=functools.partial(CallRefused, label=label),
            credentials_refused=functools.partial(
                ShopCredentialsRefused, label=label, credentials=credentials
            ),
        )


@dataclass(frozen=True)
class ApiSpec:
    """``holds_throttled``: a ``Retry-After`` holds back every later call of the operation;
    ``grants_per_period``: a 429 without ``Retry-After`` at the token endpoint ends the
    call at once (asked again, it would only be refused again)."""

    label: str  # the marketplace as its logs name it
    log: logging.Logger
    errors: CallErrors
    refusals: Refusals = Refusals()
    max_response_bytes: int = 8 * 1024 * 1024
    misaddressed: str = ""
    holds_throttled: bool = False
    authorized_files: bool = False
    allowance_call: str = ""
    grants_per_period: bool = False
    answers: Answers | None = None
    requests_per_second: int | None = None  # a shop's, across endpoints (None: no limit)

    @classmethod
    def token_endpoint(
        cls,
        label: str,
        log: logging.Logger,
        *,
        refused: Callable[[str, str, int], Exception],
        invalid: Callable[[str, str, int], Exception],
        unavailable: Callable[[str], Exception],
    ) -> ApiSpec:
        """An OAuth token endpoint's: ``invalid`` for ``invalid_grant`` (RFC 6749 5.2),
        ``refused`` for another code (masked: it is the remote's)."""

        def failed(call: str, reason: str, *, retry_after: float | None = None) -> Exception:
            return unavailable(f"{label} ({call}) {reason}")

        def refusal(call: str, status: int, document: Any) -> Exception:
            said = document if isinstance(document, dict) else {}
            code, why = said.get("error"), said.get("error_description")
            code = mask_tokens(code) if isinstance(code, str) else f"http_{status}"
            why = remote_excerpt(why, 300) if isinstance(why, str) else ""
            return (invalid if code == "invalid_grant" else refused)(code, why, status)

        errors = CallErrors(
            unavailable=failed,
            unreadable=failed,
            outcome_unknown=failed,
            refused=lambda call, status, detail: refused(f"http_{status}", detail, status),
            credentials_refused=lambda detail: refused("invalid_client", detail, 401),
        )
        # A token answer is a few hundred bytes.
        return cls(label, log, errors, Refusals(error=refusal), max_response_bytes=64 << 10)

    @property
    def terms(self) -> CallTerms:
        errors = self.errors
        return CallTerms(
            self.label,
            self.log,
            unavailable=errors.unavailable,
            unreadable=errors.unreadable,
            outcome_unknown=errors.outcome_unknown,
        )


class Pace(Protocol):
    """When a shop's requests may leave, by the rate its marketplace meters them at."""

    async def before(self, call: str) -> None: ...

    def after(self, call: str, response: httpx.Response) -> None: ...  # a rate announced


class RequestRate:
    """A shop's requests a second across endpoints, one per requester."""

    def __init__(
        self,
        per_second: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.per_second = per_second
        self._clock, self._sleep = clock, sleep
        self._left: deque[float] = deque()  # when each request of the last second left

    async def before(self, call: str) -> None:
        while True:
            now = self._clock()
            while self._left and self._left[0] <= now - 1.0:
                self._left.popleft()
            if len(self._left) < self.per_second:
                self._left.append(now)
                return
            await self._sleep(self._left[0] + 1.0 - now)

    def after(self, call: str, response: httpx.Response) -> None:
        """No rate is announced in an answer: nothing to learn."""
