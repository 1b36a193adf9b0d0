"""What the shop API clients do alike with one call over HTTP: its attempts and deadline,
its status read (throttled, failing, refused), its answer read up to a cap and decoded, and
a call that sends something never repeated once it may have arrived. Answers are decoded as
JSON (``_decoded``); a client of another format (XML) reads its own from ``_exchange``'s
bytes.

A client subclasses ``JsonCalls`` and keeps what its marketplace alone decides: how a call
is sent (headers, body), what a refusal means (``_refused``: a 401, a 403, a firewall), how
it words its failures (``CallTerms``: its seam errors) and what its logs say of a shop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, Protocol, TypedDict, TypeVar

import httpx
import msgspec

from keybuzz_shared.addresses import refusal
from keybuzz_shared.http_calls import (
    AnswerTooLarge,
    Throttled,
    TransientFailure,
    attempted,
    read_bounded,
    throttling,
)
from keybuzz_shared.mended import json_decoded
from keybuzz_shared.redaction import KnownSecrets, remote_excerpt
from keybuzz_shared.spent_calls import spend

T = TypeVar("T")

ERROR_BODY_BYTES = 64 * 1024  # of a refusal's answer, only this much is read
DETAIL_CHARS = 300  # of the marketplace's reason kept in an error (its excerpt: redaction.py)
JSON_TYPES = ("application/json", "+json")


class Call(Protocol):
    """One call as the shared steps see it; a client's call holds more (its URL, body)."""

    @property
    def name(self) -> str:
        """How errors and logs name it ("GET ws/sav", "M11 GET /api/inbox/threads")."""
        ...

    # False for calls that send something: only answers proving the marketplace did
    # nothing are retried, and a lost answer is an unknown outcome.
    idempotent: bool
    in_doubt: bool  # a request left and no answer came back yet
    retry_after: float | None  # what the last throttling answer said


class Unavailable(Protocol):
    def __call__(self, call: str, reason: str, *, retry_after: float | None = None) -> Exception:
        """The marketplace's MarketplaceUnavailable for ``call``."""
        ...


@dataclass(frozen=True)
class CallTerms:
    """How a client words a call's failures: its marketplace as its logs name it, its
    logger, and its seam errors, each given the call's name and the reason."""

    label: str  # the marketplace's display name: the start of each log line
    log: logging.Logger
    unavailable: Unavailable
    unreadable: Callable[[str, str], Exception]
    outcome_unknown: Callable[[str, str], Exception]


class CallOptions(TypedDict, total=False):
    """How long a client's calls may take and how often they are tried (each defaulted in
    ``JsonCalls``): a client takes them as keyword arguments and passes them on."""

    call_deadline: float | None  # seconds a call may take in all (None: no cut)
    attempts: int
    initial_backoff: float
    max_backoff: float
    max_retry_after: float  # a longer Retry-After ends the call at once


# A person waits for a credential check: its calls end within this (or the shop's call
# deadline when shorter), with one retry, short back-offs, and a longer Retry-After passed
# on rather than waited for.
CHECK_DEADLINE_SECONDS = 15.0


def check_options(call_deadline: float) -> CallOptions:
    """A credential check's CallOptions, ``call_deadline`` the shop's calls' own."""
    return CallOptions(
        call_deadline=min(CHECK_DEADLINE_SECONDS, call_deadline),
        attempts=2,
        max_backoff=2.0,
        max_retry_after=5.0,
    )


C = TypeVar("C", bound=Call)


class JsonCalls(Generic[C]):
    """The shared steps of one shop's calls; ``max_response_bytes``: the cap of an answer."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        terms: CallTerms,
        *,
        max_response_bytes: int,
        call_deadline: float | None = None,
        attempts: int = 4,
        initial_backoff: float = 0.5,
        max_backoff: float = 20.0,
        max_retry_after: float = 60.0,
    ) -> None:
        self._http = http
        self._terms = terms
        self._deadline = call_deadline
        self._attempts = attempts
        self._initial_backoff, self._max_backoff = initial_backoff, max_backoff
        self._max_retry_after = max_retry_after
        self._max_bytes = max_response_bytes

    # --- what each client says --------------------------------------------------------------

    async def _refused(self, call: C, response: httpx.Response) -> NoReturn:
        """Raises what a 4xx (or another status neither throttled nor failing) means."""
        raise NotImplementedError

    def _shop(self) -> dict[str, str]:
        """The shop a client's logs name, beside the call."""
        raise NotImplementedError

    def _secrets(self) -> Iterable[str]:
        """What no error may quote (a key, a token)."""
        raise NotImplementedError

    def _ends_now(self, call: C, throttled: Throttled) -> bool:
        """Whether a throttled call ends at once rather than waiting (when the wait asked
        is longer than a call waits)."""
        return throttled.too_long

    def _resends_garbled(self, call: C) -> bool:
        """Whether an empty or truncated answer is asked again within the call."""
        return True

    def _not_json(self, media: str) -> str:
        """The reason an answer of another type than JSON is refused."""
        return f"{media or 'no content type'} where JSON was expected"

    # --- the deadline -----------------------------------------------------------------------

    async def _bounded(self, call: C, work: Awaitable[T]) -> T:
        """``work`` cut at the call's deadline: unavailable, or an unknown outcome when a
        call sending something had left without its answer back."""
        if self._deadline is None:
            return await work
        try:
            async with asyncio.timeout(self._deadline) as deadline:
                return await work
        except TimeoutError:
            if not deadline.expired():
                raise
        reason = f"no answer within {self._deadline:g} s"
        if call.in_doubt and not call.idempotent:
            raise self._terms.outcome_unknown(call.name, reason)
        self._terms.log.warning(
            "%s call cut at its deadline", self._terms.label, extra=self._where(call)
        )
        raise self._terms.unavailable(call.name, reason, retry_after=call.retry_after)

    # --- one call, with retries -------------------------------------------------------------

    async def _attempted(self, call: C, once: Callable[[], Awaitable[T]]) -> T:
        """``once`` tried as the client's attempts allow; the last transient failure worded
        as unreadable or unavailable."""
        try:
            return await attempted(
                once,
                self._attempts,
                initial_backoff=self._initial_backoff,
                max_backoff=self._max_backoff,
            )
        except TransientFailure as last:
            if last.unreadable:
                raise self._terms.unreadable(call.name, last.reason) from None
            raise self._terms.unavailable(
                call.name,
                f"failed {self._attempts} times; last: {last.reason}",
                retry_after=last.retry_after,
            ) from None

    async def _exchange(
        self,
        call: C,
        stream: Callable[[], AbstractAsyncContextManager[httpx.Response]],
        max_bytes: int,
    ) -> tuple[httpx.Response, bytes]:
        """One request (``stream`` opens it) and its accepted answer's body."""
        log, label = self._terms.log, self._terms.label
        spend(call.name)  # counted as spent before it leaves; unsent past the round's bound
        call.in_doubt = True
        try:
            async with stream() as response:
                await self._check_status(call, response)
                content = await self._read_bounded(call, response, max_bytes)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            call.in_doubt = False  # nothing reached the marketplace: safe to retry
            log.warning("%s unreachable; retrying", label, extra=self._where(call, exc))
            # An address inside our network is said so (its host is the catalogue's).
            raise TransientFailure(refusal(exc) or type(exc).__name__) from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            self._lost(call, type(exc).__name__)
            log.warning("%s call failed; retrying", label, extra=self._where(call, exc))
            raise TransientFailure(type(exc).__name__) from None
        call.in_doubt = False
        return response, content

    # --- what came back ---------------------------------------------------------------------

    async def _check_status(self, call: C, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        call.in_doubt = False  # an answer came: what it says decides
        log, label = self._terms.log, self._terms.label
        if throttled := throttling(response, max_retry_after=self._max_retry_after):
            call.retry_after = throttled.retry_after
            if self._ends_now(call, throttled):
                raise self._terms.unavailable(
                    call.name,
                    f"HTTP {status}, retry after {throttled.retry_after:g} s",
                    retry_after=throttled.retry_after,
                )
            log.info("%s throttled; backing off", label, extra=self._where(call))
            raise TransientFailure(f"HTTP {status}", retry_after=throttled.retry_after)
        if status >= 500:
            self._lost(call, f"HTTP {status}")
            log.warning("%s answered %s; retrying", label, status, extra=self._where(call))
            raise TransientFailure(f"HTTP {status}")
        await self._refused(call, response)

    async def _read_bounded(self, call: C, response: httpx.Response, max_bytes: int) -> bytes:
        """An accepted call's body, dropped unread past ``max_bytes``: the call was done,
        so a call that sends something has an unknown outcome."""
        try:
            return await read_bounded(response, max_bytes)
        except AnswerTooLarge as exc:
            self._lost(call, f"answer {exc.size}")
            raise self._terms.unreadable(
                call.name, f"answer larger than allowed ({exc.size})"
            ) from None

    def _decoded(self, call: C, response: httpx.Response, content: bytes) -> Any:
        """The JSON of an accepted answer; None for an empty one where none is expected
        (a 204, a call that sends something)."""
        if not content.strip():
            if response.status_code == 204 or not call.idempotent:
                return None
            self._garbled(call, "empty answer", "empty answer")
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not media.endswith(JSON_TYPES):
            self._lost(call, f"{media or 'no content type'} answer")
            raise self._terms.unreadable(call.name, self._not_json(media))
        try:
            return json_decoded(content)
        except msgspec.ValidationError:  # JSON, but a number no type holds: asking again
            self._lost(call, "a number out of range")  # gets the same answer
            raise self._terms.unreadable(call.name, "a number out of range") from None
        except msgspec.DecodeError:
            self._lost(call, "not JSON")
            self._garbled(call, "not JSON", "not JSON (truncated?)", logged=True)
        except RecursionError:  # nested past the decoder's depth: the same answer again
            self._lost(call, "nested too deeply")
            raise self._terms.unreadable(call.name, "JSON nested too deeply") from None

    def _garbled(self, call: C, reason: str, retried_as: str, *, logged: bool = False) -> NoReturn:
        if not self._resends_garbled(call):
            raise self._terms.unreadable(call.name, reason)
        if logged:
            self._terms.log.warning(
                "%s answer not JSON; retrying", self._terms.label, extra=self._where(call)
            )
        raise TransientFailure(retried_as, unreadable=True)

    async def _refusal(self, response: httpx.Response) -> Any:
        """A refusal's JSON document, read up to ERROR_BODY_BYTES; None when it is none."""
        try:
            content = await read_bounded(response, ERROR_BODY_BYTES)
            return msgspec.json.decode(content) if content.strip() else None
        except (AnswerTooLarge, msgspec.DecodeError, RecursionError, httpx.TransportError):
            return None

    def _detail(self, response: httpx.Response, reason: str) -> str:
        """ "HTTP <status> <reason>": the reason an excerpt without a secret nor anything
        shaped like a token (``redaction.remote_excerpt``)."""
        said = remote_excerpt(KnownSecrets(self._secrets()).redact(reason)) if reason else ""
        return (f"HTTP {response.status_code} {said}".strip())[:DETAIL_CHARS]

    def _lost(self, call: C, reason: str) -> None:
        """The request may have reached the marketplace: a call that sends something stops."""
        if not call.idempotent:
            call.in_doubt = False
            raise self._terms.outcome_unknown(call.name, reason)

    def _where(self, call: C, exc: BaseException | None = None) -> dict[str, str]:
        where = {"call": call.name, **self._shop()}
        if exc is not None:
            where["error"] = type(exc).__name__
        return where
