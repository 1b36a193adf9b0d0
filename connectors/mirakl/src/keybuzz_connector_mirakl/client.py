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
import functools
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar, Unpack

import httpx
import msgspec
from keybuzz_shared.file_links import FileTooLarge, FileUnavailable
from keybuzz_shared.http_calls import AnswerTooLarge, Throttled, read_bounded
from keybuzz_shared.json_calls import CallOptions, CallTerms, JsonCalls

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


class MiraklClient(JsonCalls[_Call]):
    """One shop's calls on one operator's API. ``base_url``: the operator's (calls go to
    ``<base_url>/api/...``); ``call_deadline``: seconds a call may take in all."""

    def __init__(
        self,
        key: MiraklKey,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        operator: str,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        **options: Unpack[CallOptions],
    ) -> None:
        terms = CallTerms(
            "Mirakl",
            log,
            unavailable=functools.partial(MiraklUnavailable, operator),
            unreadable=functools.partial(MiraklAnswerUnreadable, operator),
            outcome_unknown=functools.partial(MiraklOutcomeUnknown, operator),
        )
        super().__init__(
            http,
            terms,
            max_response_bytes=max_response_bytes,
            **options,
        )
        self.key = key
        self.operator = operator
        self._base = httpx.URL(base_url if base_url.endswith("/") else base_url + "/")
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
        return await self._bounded(call, self._attempted(call, lambda: self._once(call)))

    async def _bounded(self, call: _Call, work: Awaitable[T]) -> T:
        if self._deadline is not None:
            call.ends_at = time.monotonic() + self._deadline
        return await super()._bounded(call, work)

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
        response, content = await self._exchange(
            call,
            lambda: self._http.stream(
                call.method,
                call.url,
                params=call.params,
                content=call.content,
                files=call.files,
                headers=headers,
                follow_redirects=False,
            ),
            call.max_bytes,
        )
        if not call.json_answer:
            return content
        return self._decoded(call, response, content)

    # --- what Mirakl says -------------------------------------------------------------------

    def _ends_now(self, call: _Call, throttled: Throttled) -> bool:
        """The operation is held for the Retry-After; a wait the call's deadline would cut
        is not begun: the call ends now, its caller told when to come back."""
        if throttled.retry_after is None:
            return throttled.too_long
        held = time.monotonic() + throttled.retry_after
        self._held_until[call.operation] = max(held, self._held_until.get(call.operation, 0.0))
        past_deadline = call.ends_at is not None and held >= call.ends_at
        return throttled.too_long or past_deadline

    async def _refused(self, call: _Call, response: httpx.Response) -> NoReturn:
        status = response.status_code
        if 300 <= status < 400:
            raise MiraklAnswerUnreadable(
                self.operator, call.name, f"HTTP {status} redirect{self._elsewhere(response)}"
            )
        # Mirakl's message for a 4xx: ``{"message", "status"}``.
        document = await self._refusal(response)
        message = document.get("message") if isinstance(document, dict) else None
        detail = self._detail(
            response, message if isinstance(message, str) and message.strip() else ""
        )
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

    async def _read_bounded(self, call: _Call, response: httpx.Response, max_bytes: int) -> bytes:
        if call.json_answer:
            return await super()._read_bounded(call, response, max_bytes)
        try:
            return await read_bounded(response, max_bytes)
        except AnswerTooLarge as exc:  # a file over the size it may have
            raise FileTooLarge(f"{call.name}: {exc.size}") from None

    def _resends_garbled(self, call: _Call) -> bool:
        # A paced call's garbled answer was counted: sent again at once, it meets a 429.
        return not call.paced

    def _not_json(self, media: str) -> str:
        shown = "an HTML page" if media == "text/html" else (media or "no content type")
        return f"{shown} where JSON was expected: the operator's base URL may not be its API"

    def _shop(self) -> dict[str, str]:
        return {"operator": self.operator, "shop_id": self.key.shop_id}

    def _secrets(self) -> tuple[str, ...]:
        return (self.key.api_key,)

    # --- addresses ----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        relative = path.lstrip("/")
        if "://" in relative or ".." in relative:
            raise ValueError(f"{path!r} is not a path under the operator's API")
        return str(self._base.join(relative))
