"""What a connector declares of its marketplace's API for the requester (requester.py): its
seam errors (``CallErrors``), how it refuses (``Refusals``), how its answers are read where
they are not JSON (``Answers``), its name, caps and allowances (``ApiSpec``) and the pace of
its requests (``Pace``, ``RequestRate``). Declarations only: the requester runs the calls."""

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

# --- answers -------------------------------------------------------------------------------
# Answers of an API that does not speak JSON (an XML seller API), as the requester reads
# them (``ApiSpec.answers``): the media type asked for and sent, the document parsed (for
# XML, by the kit's guard: xml_answers.py), and what the document's own envelope says of
# the call beside its HTTP status. An envelope that refuses is read by the marketplace's
# ``Refusals`` like a refusal over HTTP (its token expired: renewed once; a login's: the
# credentials refused; else its own error); one that only asks to come back soon is asked
# again like a 429. An error status whose answer is of this type (but a 429 or one of the
# credentials' statuses) is read like any answer: its envelope says what was refused.
#
# Such an API carries the shop's token in the request's body: a call's body is made again
# at each sending from what the authentication carries (``Requester.post_document``).


class Garbled(Exception):
    """An answer cut short or not of the format at all (a server failing mid-answer): a
    read asks again, a send's outcome is unknown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refusal(NamedTuple):
    """What an envelope refuses: ``reason``, its own words (a status and codes) for logs;
    ``later``: the marketplace only asks to come back soon."""

    reason: str
    later: bool = False


class Answers(Protocol):
    """How a marketplace's documents are read."""

    @property
    def content_type(self) -> str:
        """Its requests' type ("text/xml; charset=utf-8"); its media type is asked for."""
        ...

    def read(self, content: bytes, max_bytes: int, redact: Callable[[str], str]) -> Any:
        """The document of an answer: ``Garbled`` for one cut short or not of the format,
        the marketplace's unreadable answer for any other (a DTD, another encoding). What
        it keeps of the answer's texts goes through ``redact`` (the shop's secrets out)."""
        ...

    def refusal(self, document: Any) -> Refusal | None:
        """What the document's envelope refuses; None when it accepts the call."""
        ...


# --- refusals ------------------------------------------------------------------------------
# A marketplace's refusals as a table: which statuses mean the shop's credentials are
# refused, which answers mean "held, come back later" although they are 4xx (a firewall's
# challenge), which say the call's token expired, where its error document says why, and the
# marketplace's own error for a refusal where it words them itself. The requester reads a refusal with it;
# whatever the table does not name is the call refused, the same call refused again.

# Where a marketplace's error document says why, most often: RFC 9457's ``detail`` and
# ``title``, OAuth's ``error_description`` and ``error``, a plain ``message``, and a list
# of ``errors`` (its first one's ``code`` or ``message``).
COMMON_REASON_KEYS = ("detail", "message", "error_description", "title", "error", "errors")


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

    class Held(NamedTuple):
        """A refusal that says nothing of the call or the credentials: the shop is held for
        ``seconds`` and the same call tried again then."""

        seconds: float
        reason: str

        @classmethod
        def said(
            cls, status: int, field: str, value: str, seconds: float, reason: str
        ) -> Callable[[httpx.Response, Any], Refusals.Held | None]:
            """``held`` declared as data: an answer of ``status`` whose error document's
            ``field`` is ``value`` (a problem type, an error code) holds the shop."""

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
        """The seam's call errors, each naming the marketplace by ``label`` (its display
        name); a refusal of the shop's ``credentials`` ("token", "API key") says which."""
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
    """What a requester must know of a marketplace's API. ``misaddressed``: what a
    redirect or a page of another type most likely means (a base URL that is not the
    API's); ``holds_throttled``: a ``Retry-After`` holds back every later call of the same
    operation until it ends; ``authorized_files``: a file link is fetched with the call's
    authentication (else with its public headers only); ``allowance_call``: the name of
    the call the marketplace allows a number of a day ("GET ws/sav"), empty when none;
    ``grants_per_period``: its token endpoint limits grants per period (a day), so a 429
    there without ``Retry-After`` ends the call at once, asked again within the call it
    would only be refused again; ``answers``: how its answers are read where they are not
    JSON (xml_answers.py); ``requests_per_second``: a shop's requests it takes a second, each
    requester paced to them (``RequestRate``) unless given its own pace."""

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
        """An OAuth token endpoint's (a consent's code exchange and refresh): a refusal is
        ``invalid`` for the error code ``invalid_grant`` (a code or refresh token revoked,
        used or expired, RFC 6749 5.2), ``refused`` for another, each given the code (masked:
        it is the remote's), an excerpt of its description and the status; no answer, or
        one unread, ``unavailable`` (a message naming the call)."""

        def failed(call: str, reason: str, *, retry_after: float | None = None) -> Exception:
            return unavailable(f"{label} ({call}) {reason}")

        def refusal(call: str, status: int, document: Any) -> Exception:
            said = document if isinstance(document, dict) else {}
            code, why = said.get("error"), said.get("error_description")
            code = mask_tokens(code) if isinstance(code, str) else f"http_{status}"
            why = remote_excerpt(why, 300) if isinstance(why, str) else ""
            return (invalid if code == "invalid_grant" else refused)(code, why, status)

        errors = CallErrors(
            unavailable=failed, unreadable=failed, outcome_unknown=failed,
            refused=lambda call, status, detail: refused(f"http_{status}", detail, status),
            credentials_refused=lambda detail: refused("invalid_client", detail, 401),
        )  # fmt: skip
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

    async def before(self, call: str) -> None:
        """Returns once the request of ``call`` (its name) may leave."""
        ...

    def after(self, call: str, response: httpx.Response) -> None:
        """What the answer's status and headers say of the rate (a 429, a rate announced)."""
        ...


class RequestRate:
    """A marketplace's limit of a shop's requests a second across its endpoints
    (``ApiSpec.requests_per_second``), as its requester's ``Pace``: a request leaves once
    fewer than ``per_second`` left in the second before it, else waits for the oldest to
    age out. One per requester (a shop's session in one process)."""

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
