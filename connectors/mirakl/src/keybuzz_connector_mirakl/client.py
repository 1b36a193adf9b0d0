"""One shop's calls to one operator's instance of Mirakl's seller API.

Every call carries the shop user's API key in ``Authorization`` (Mirakl's way: no scheme)
and the shop's ``shop_id`` (a key may serve several shops). A call is named by Mirakl's
operation code (M11, OR11 …): a 429's ``Retry-After`` holds back every later call of that
operation from this client until it ends — a call inside it fails at once, unsent, with
the time left — and a retry within the call waits it out when it fits the call's deadline.
Unreachable, timeouts and 5xx of a read are retried with jittered back-off (tenacity); a
call as a whole ends within the call deadline. An answer must be the API's own: a redirect
(to another host or not), an HTML page or another content type where JSON was expected is
refused with what came, never followed. A call that sends something (M12) is never
repeated once it may have reached Mirakl. Errors and logs never hold the key.
Details: docs/MIRAKL.md."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import msgspec
from keybuzz_shared.file_links import FileTooLarge, FileUnavailable
from keybuzz_shared.http_calls import (
    AnswerTooLarge,
    TransientFailure,
    attempted,
    read_bounded,
    throttling,
)

from keybuzz_connector_mirakl.errors import (
    MiraklAnswerUnreadable,
    MiraklCredentialsRefused,
    MiraklOutcomeUnknown,
    MiraklRequestRefused,
    MiraklUnavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Any answer is refused past this size, unread: the largest we ask for is a page of 100
# threads with their last 100 messages each (bodies up to 50,000 characters).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
ERROR_BODY_BYTES = 64 * 1024  # of an error's answer, only this much is read
DETAIL_CHARS = 300  # of Mirakl's message kept in an error
_JSON_TYPES = ("application/json", "+json")


class MiraklKey(msgspec.Struct, frozen=True, kw_only=True):
    """A shop user's API key and the shop it calls for."""

    api_key: str
    shop_id: str

    def __repr__(self) -> str:
        return f"MiraklKey(api_key=[REDACTED], shop_id={self.shop_id!r})"


class FilePart(msgspec.Struct, frozen=True, kw_only=True):
    """A file of a multipart request (M12's ``files``)."""

    name: str
    content_type: str
    data: bytes


class _Transient(TransientFailure):
    """Worth another try (``TransientFailure``), raised by this client."""


@dataclass
class _Call:
    operation: str  # Mirakl's code: M11, M10, M12, M13, OR11, A21 …
    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    files: list[tuple[str, tuple[str | None, bytes, str]]] | None = None
    data: dict[str, str] | None = None
    # False for calls that send something: only answers proving Mirakl did nothing are
    # retried, and a lost answer is MiraklOutcomeUnknown.
    idempotent: bool = True
    json_answer: bool = True  # False: the answer's bytes (M13), whatever their type
    # A call the operator allows once per its frequency (M11's, OR11's first page): an
    # answer that came garbled was counted, so sending it again at once only meets a 429.
    paced: bool = False
    max_bytes: int = MAX_RESPONSE_BYTES
    in_doubt: bool = False  # sent, and no answer back yet
    retry_after: float | None = None
    ends_at: float | None = None  # time.monotonic() of the call's deadline

    @property
    def name(self) -> str:
        path = httpx.URL(self.url).path
        return f"{self.operation} {self.method} {path}"


class MiraklClient:
    """One shop's calls on one operator's API. ``base_url``: the operator's (calls go to
    ``<base_url>/api/...``); ``call_deadline``: seconds a call may take in all."""

    def __init__(
        self,
        key: MiraklKey,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        operator: str,
        call_deadline: float | None = None,
        attempts: int = 4,
        initial_backoff: float = 0.5,
        max_backoff: float = 20.0,
        max_retry_after: float = 60.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.key = key
        self.operator = operator
        self._http = http
        self._base = httpx.URL(base_url if base_url.endswith("/") else base_url + "/")
        self._deadline = call_deadline
        self._attempts = attempts
        self._initial_backoff, self._max_backoff = initial_backoff, max_backoff
        self._max_retry_after = max_retry_after
        self._max_bytes = max_response_bytes
        # time.monotonic() before which no call of an operation leaves (its Retry-After).
        self._held_until: dict[str, float] = {}

    @property
    def shop_id(self) -> str:
        return self.key.shop_id

    @property
    def base_url(self) -> str:
        return str(self._base)

    # --- the calls ------------------------------------------------------------------------

    async def get_json(
        self,
        operation: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        paced: bool = False,
    ) -> Any:
        """The JSON answer of ``GET <base>/<path>`` (``path`` like "api/inbox/threads").
        ``paced``: a call the operator allows once per its frequency (a listing's first
        page): a garbled answer is not asked again within the call."""
        call = _Call(operation, "GET", self._url(path), params=dict(params or {}), paced=paced)
        return await self._run(call)

    async def post_multipart(
        self,
        operation: str,
        path: str,
        fields: Mapping[str, Any],
        files: Sequence[FilePart] = (),
        *,
        file_field: str = "files",
    ) -> Any:
        """``POST`` a ``multipart/form-data`` body: each of ``fields`` a JSON part (Mirakl's
        ``message_input``, ``thread_input``), each file a ``file_field`` part. Sent again
        only after an answer proving Mirakl did nothing (429, a refused connection); an
        answer lost after it left is MiraklOutcomeUnknown."""
        parts: list[tuple[str, tuple[str | None, bytes, str]]] = [
            (name, (None, msgspec.json.encode(value), "application/json"))
            for name, value in fields.items()
        ]
        parts += [(file_field, (f.name, f.data, f.content_type)) for f in files]
        call = _Call(operation, "POST", self._url(path), files=parts, idempotent=False)
        return await self._run(call)

    async def get_bytes(
        self, operation: str, path: str, max_bytes: int, params: Mapping[str, str] | None = None
    ) -> bytes:
        """The bytes of ``GET <base>/<path>`` (M13's download): FileTooLarge over
        ``max_bytes``, FileUnavailable for a 404 (no such file)."""
        call = _Call(
            operation,
            "GET",
            self._url(path),
            params=dict(params or {}),
            json_answer=False,
            max_bytes=max_bytes,
        )
        try:
            answer: bytes = await self._run(call)
        except MiraklRequestRefused as exc:
            if exc.status == 404:
                raise FileUnavailable(404) from None
            raise
        return answer

    def held_for(self, operation: str) -> float:
        """Seconds left of the Retry-After the operator gave ``operation`` (0: none)."""
        return max(0.0, self._held_until.get(operation, 0.0) - time.monotonic())

    # --- one call: the deadline, the attempts -----------------------------------------------

    async def _run(self, call: _Call) -> Any:
        call.params["shop_id"] = self.key.shop_id
        return await self._bounded(call, self._send(call))

    async def _bounded(self, call: _Call, work: Awaitable[T]) -> T:
        if self._deadline is None:
            return await work
        call.ends_at = time.monotonic() + self._deadline
        try:
            async with asyncio.timeout(self._deadline) as deadline:
                return await work
        except TimeoutError:
            if not deadline.expired():
                raise
        if call.in_doubt and not call.idempotent:
            raise MiraklOutcomeUnknown(
                self.operator, call.name, f"no answer within {self._deadline:g} s"
            )
        log.warning("Mirakl call cut at its deadline", extra=self._where(call))
        raise MiraklUnavailable(
            self.operator,
            call.name,
            f"no answer within {self._deadline:g} s",
            retry_after=call.retry_after,
        )

    async def _send(self, call: _Call) -> Any:
        try:
            return await attempted(
                lambda: self._once(call),
                self._attempts,
                initial_backoff=self._initial_backoff,
                max_backoff=self._max_backoff,
            )
        except TransientFailure as last:
            if last.unreadable:
                raise MiraklAnswerUnreadable(self.operator, call.name, last.reason) from None
            raise MiraklUnavailable(
                self.operator,
                call.name,
                f"failed {self._attempts} times; last: {last.reason}",
                retry_after=last.retry_after,
            ) from None

    async def _hold_check(self, call: _Call) -> None:
        """No call leaves inside the Retry-After its operation was given: a call that was
        itself throttled waits out what is left of it (its retry's sleep may wake a
        clock tick early), any other fails at once, unsent."""
        left = self.held_for(call.operation)
        if left > 0 and call.retry_after is not None:
            await asyncio.sleep(left)
        elif left > 0:
            raise MiraklUnavailable(
                self.operator,
                call.name,
                f"held back inside the operator's Retry-After ({left:.1f} s left)",
                retry_after=left,
            )

    async def _once(self, call: _Call) -> Any:
        await self._hold_check(call)
        headers = {"Authorization": self.key.api_key, "Accept": "application/json"}
        call.in_doubt = True
        try:
            async with self._http.stream(
                call.method,
                call.url,
                params=call.params,
                content=call.content,
                files=call.files,
                headers=headers,
                follow_redirects=False,
            ) as response:
                await self._check_status(call, response)
                content = await self._read(call, response, call.max_bytes)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            call.in_doubt = False  # nothing reached Mirakl: safe to retry, whatever the call
            log.warning("Mirakl unreachable; retrying", extra=self._where(call, exc))
            raise _Transient(type(exc).__name__) from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            self._lost(call, type(exc).__name__)
            log.warning("Mirakl call failed; retrying", extra=self._where(call, exc))
            raise _Transient(type(exc).__name__) from None
        call.in_doubt = False
        if not call.json_answer:
            return content
        return self._decoded(call, response, content)

    # --- what came back ---------------------------------------------------------------------

    async def _check_status(self, call: _Call, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        call.in_doubt = False  # an answer came: what it says decides
        if 300 <= status < 400:
            raise MiraklAnswerUnreadable(
                self.operator, call.name, f"HTTP {status} redirect{self._elsewhere(response)}"
            )
        if throttled := throttling(response, max_retry_after=self._max_retry_after):
            call.retry_after = throttled.retry_after
            if throttled.retry_after is not None:
                held = time.monotonic() + throttled.retry_after
                self._held_until[call.operation] = max(
                    held, self._held_until.get(call.operation, 0.0)
                )
            # A wait the call's deadline would cut is not begun: the call ends now, its
            # caller told when to come back.
            past_deadline = (
                throttled.retry_after is not None
                and call.ends_at is not None
                and time.monotonic() + throttled.retry_after >= call.ends_at
            )
            if throttled.too_long or past_deadline:
                raise MiraklUnavailable(
                    self.operator,
                    call.name,
                    f"HTTP {status}, retry after {throttled.retry_after:g} s",
                    retry_after=throttled.retry_after,
                )
            log.info("Mirakl throttled; waiting its Retry-After", extra=self._where(call))
            raise _Transient(f"HTTP {status}", retry_after=throttled.retry_after)
        if status >= 500:
            self._lost(call, f"HTTP {status}")
            log.warning("Mirakl answered %s; retrying", status, extra=self._where(call))
            raise _Transient(f"HTTP {status}")
        detail = await self._error_of(call, response)
        if status in (401, 403):
            raise MiraklCredentialsRefused(self.operator, f"{call.name}: {detail}")
        raise MiraklRequestRefused(self.operator, call.name, status, detail)

    def _elsewhere(self, response: httpx.Response) -> str:
        """Where a redirect points, by host only (a query may hold anything)."""
        location = response.headers.get("location", "")
        try:
            target = self._base.join(location) if location else None
        except httpx.InvalidURL:
            target = None
        if target is None or not target.host:
            return " (the operator's base URL is not its API: check the catalogue)"
        where = "another host" if target.host != self._base.host else "the same host"
        return (
            f" to {where} ({target.host}): the operator's base URL is not its API, "
            "check the catalogue"
        )

    async def _read(self, call: _Call, response: httpx.Response, max_bytes: int) -> bytes:
        try:
            return await read_bounded(response, max_bytes)
        except AnswerTooLarge as exc:
            if not call.json_answer:  # a file over the size it may have
                raise FileTooLarge(f"{call.name}: {exc.size}") from None
            self._lost(call, f"answer {exc.size}")
            raise MiraklAnswerUnreadable(
                self.operator, call.name, f"answer larger than allowed ({exc.size})"
            ) from None

    def _decoded(self, call: _Call, response: httpx.Response, content: bytes) -> Any:
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not content.strip():
            if response.status_code == 204 or not call.idempotent:
                return None
            self._lost(call, "empty answer")
            if call.paced:
                raise MiraklAnswerUnreadable(self.operator, call.name, "empty answer")
            raise _Transient("empty answer", unreadable=True)
        if not media.endswith(_JSON_TYPES):
            self._lost(call, f"{media or 'no content type'} answer")
            shown = "an HTML page" if media == "text/html" else (media or "no content type")
            raise MiraklAnswerUnreadable(
                self.operator,
                call.name,
                f"{shown} where JSON was expected: the operator's base URL may not be its API",
            )
        try:
            return msgspec.json.decode(content)
        except msgspec.DecodeError:
            self._lost(call, "not JSON")
            if call.paced:
                raise MiraklAnswerUnreadable(self.operator, call.name, "not JSON") from None
            log.warning("Mirakl answer not JSON; retrying", extra=self._where(call))
            raise _Transient("not JSON (truncated?)", unreadable=True) from None

    async def _error_of(self, call: _Call, response: httpx.Response) -> str:
        """Mirakl's message for a 4xx (``{"message", "status"}``), shortened, without the
        key; a body that is not a JSON document gives none."""
        try:
            content = await read_bounded(response, ERROR_BODY_BYTES)
            document = msgspec.json.decode(content) if content.strip() else {}
        except (AnswerTooLarge, msgspec.DecodeError, httpx.TransportError):
            document = {}
        message = document.get("message") if isinstance(document, dict) else None
        detail = f"HTTP {response.status_code}" + (
            f" {message}" if isinstance(message, str) and message.strip() else ""
        )
        return detail.replace(self.key.api_key, "[REDACTED]")[:DETAIL_CHARS]

    def _lost(self, call: _Call, reason: str) -> None:
        """The request may have reached Mirakl: a call that sends something stops here."""
        if not call.idempotent:
            call.in_doubt = False
            raise MiraklOutcomeUnknown(self.operator, call.name, reason)

    # --- addresses ----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        relative = path.lstrip("/")
        if "://" in relative or ".." in relative:
            raise ValueError(f"{path!r} is not a path under the operator's API")
        return str(self._base.join(relative))

    def _where(self, call: _Call, exc: BaseException | None = None) -> dict[str, str]:
        where = {"operator": self.operator, "call": call.name, "shop_id": self.key.shop_id}
        if exc is not None:
            where["error"] = type(exc).__name__
        return where
