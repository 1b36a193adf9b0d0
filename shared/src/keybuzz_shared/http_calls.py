"""What the shop API clients do alike with an HTTP answer before reading what it says: a
throttled answer told apart, with how long the server asked to wait, a body read up to a
cap, never all of a hostile one, and a call's attempts, each after the wait the server
asked for or a back-off. Each client says what these mean for its calls (its errors, its
logs, whether a call may be sent again)."""

from __future__ import annotations

import email.utils
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

T = TypeVar("T")


class TransientFailure(Exception):
    """An attempt worth another, after ``retry_after`` seconds when the server said so;
    ``unreadable``: an answer came but could not be read (truncated, empty)."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, unreadable: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.unreadable = unreadable


def call_attempts(count: int, *, initial_backoff: float, max_backoff: float) -> AsyncRetrying:
    """Up to ``count`` attempts of a call, another after a TransientFailure only: after the
    wait its server asked for, else an exponential back-off with jitter. ``RetryError``
    after the last (``reraise=False``: the caller words what the last failure means)."""
    backoff = wait_exponential_jitter(initial=initial_backoff, max=max_backoff)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, TransientFailure) and error.retry_after is not None:
            return error.retry_after
        return float(backoff(state))

    return AsyncRetrying(
        retry=retry_if_exception_type(TransientFailure),
        stop=stop_after_attempt(count),
        wait=wait,
        reraise=False,
    )


async def attempted(
    send: Callable[[], Awaitable[T]], count: int, *, initial_backoff: float, max_backoff: float
) -> T:
    """``send`` tried as ``call_attempts`` says; when no try is left, its last
    TransientFailure raised as it is, for the client to word in its marketplace's terms."""
    try:
        async for attempt in call_attempts(
            count, initial_backoff=initial_backoff, max_backoff=max_backoff
        ):
            with attempt:
                return await send()
    except RetryError as exc:
        last = exc.last_attempt.exception()
        assert isinstance(last, TransientFailure)  # the only failure retried
        raise last from None
    raise AssertionError("unreachable")  # AsyncRetrying either returns or raises


class Throttled(NamedTuple):
    """A 429, or a 503 that says when to come back."""

    retry_after: float | None  # seconds the server asked to wait; None: it did not say
    too_long: bool  # longer than the caller waits within a call


class AnswerTooLarge(Exception):
    """A body over the cap, left unread past it."""

    def __init__(self, max_bytes: int, declared: int | None) -> None:
        self.max_bytes = max_bytes
        self.declared = declared  # its Content-Length when that alone was over the cap
        super().__init__(self.size)

    @property
    def size(self) -> str:
        """How large it is, as far as it was read: "<n> bytes declared" or "over <n> bytes"."""
        if self.declared is not None:
            return f"{self.declared} bytes declared"
        return f"over {self.max_bytes} bytes"


def throttling(response: httpx.Response, *, max_retry_after: float) -> Throttled | None:
    """How the server throttled the call, or None when it did not."""
    status = response.status_code
    if not (status == 429 or (status == 503 and "retry-after" in response.headers)):
        return None
    wait = retry_after(response)
    return Throttled(wait, wait is not None and wait > max_retry_after)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds, or an HTTP date, as ``Retry-After`` says; None when absent or unreadable."""
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


async def read_bounded(response: httpx.Response, max_bytes: int) -> bytes:
    """The streamed body; AnswerTooLarge, without reading it all, when it is larger than
    ``max_bytes`` (declared so, or once that much has come)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise AnswerTooLarge(max_bytes, int(declared))
    content = bytearray()
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > max_bytes:
            raise AnswerTooLarge(max_bytes, None)
    return bytes(content)
