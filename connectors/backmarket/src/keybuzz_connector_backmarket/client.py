"""Back Market's seller API for one shop: its headers, its calls, their failures.

Every call carries the shop's token (``Authorization: Basic <token>``, the token as the
seller created it in its back office), ``Accept-Language`` (the shop's country code) and
the ``User-Agent`` Back Market requires (``BM-{Company}-{Integration};contact@domain``).
Unreachable, timeouts, 5xx, 429 and garbled answers of a read are retried with jittered
back-off (tenacity), a ``Retry-After`` obeyed; a call as a whole ends within the call
deadline. The web application firewall's 403 (Cloudflare's HTML page, or bot
management's JSON ``bot-need-challenge``) says nothing of the token: it is held (the shop
retried later), never read as credentials revoked; 401 is the token refused. A call that
sends something is never repeated once it may have reached Back Market. Every failure is
one of the seam's errors (errors.py); none quotes the token. Details: docs/BACKMARKET.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import msgspec
from keybuzz_shared.file_links import NO_FILES, FileLinks, FileUnavailable
from keybuzz_shared.http_calls import (
    AnswerTooLarge,
    TransientFailure,
    attempted,
    read_bounded,
    throttling,
)

from keybuzz_connector_backmarket.errors import (
    BackMarketAnswerUnreadable,
    BackMarketCredentialsRefused,
    BackMarketOutcomeUnknown,
    BackMarketRequestRefused,
    BackMarketUnavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Any answer is refused past this size, unread: a care folder with its messages is some
# tens of kB, a page of 50 orders some hundreds.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
ERROR_BODY_BYTES = 64 * 1024  # of a refusal, only this much is read
DETAIL_CHARS = 300
# The firewall says neither why nor for how long [official]: its page's own cache life is
# 15 s; the shop is polled again after this.
WAF_HOLD_SECONDS = 60.0
WAF_CODE = "bot-need-challenge"
_JSON_TYPES = ("application/json", "+json")


@dataclass(frozen=True)
class ShopAccess:
    """What a shop's calls carry: its token, its country code (``Accept-Language``) and
    the integration's ``User-Agent``."""

    token: str
    country: str
    user_agent: str

    def __repr__(self) -> str:
        return f"ShopAccess(token=[REDACTED], country={self.country!r})"


class _Transient(TransientFailure):
    """Worth another try (``TransientFailure``), raised by this client."""


@dataclass
class _Call:
    name: str  # "GET ws/sav": the method and the path, for errors and logs
    method: str
    url: str
    params: Mapping[str, str] | None = None
    form: Mapping[str, str] | None = None
    files: Sequence[tuple[str, tuple[str, bytes, str]]] = ()
    # False for calls that send something: only answers proving Back Market did nothing
    # are retried, and a lost answer is BackMarketOutcomeUnknown.
    idempotent: bool = True
    in_doubt: bool = False  # a request left and no answer came back yet
    retry_after: float | None = None


class BackMarketClient:
    """One shop's calls on the platform at ``base_url`` (``https://www.backmarket.fr``).
    ``call_deadline``: seconds a call may take in all (None: no cut)."""

    def __init__(
        self,
        access: ShopAccess,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        call_deadline: float | None = None,
        files: FileLinks = NO_FILES,
        attempts: int = 4,
        initial_backoff: float = 0.5,
        max_backoff: float = 20.0,
        max_retry_after: float = 60.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.access = access
        self._http = http
        self._base = httpx.URL(base_url if base_url.endswith("/") else base_url + "/")
        self._deadline = call_deadline
        self._files = files
        self._attempts = attempts
        self._initial_backoff, self._max_backoff = initial_backoff, max_backoff
        self._max_retry_after = max_retry_after
        self._max_bytes = max_response_bytes
        # Requests sent, by call ("GET ws/sav"), answered or not: what a daily allowance
        # of calls is spent on.
        self.sent: Counter[str] = Counter()

    @property
    def base_url(self) -> str:
        return str(self._base)

    # --- the calls ------------------------------------------------------------------------

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """The JSON answer of ``GET <platform>/<path>``."""
        call = _Call(f"GET {_shown(path)}", "GET", self.url(path), params=params)
        return await self._bounded(call, self._send(call))

    async def post_form(
        self,
        path: str,
        form: Mapping[str, str],
        files: Sequence[tuple[str, tuple[str, bytes, str]]] = (),
    ) -> Any:
        """``POST`` as multipart/form-data; sent again only after an answer proving Back
        Market did nothing (429, the firewall's 403), a lost answer BackMarketOutcomeUnknown."""
        call = _Call(
            f"POST {_shown(path)}",
            "POST",
            self.url(path),
            form=form,
            files=files,
            idempotent=False,
        )
        return await self._bounded(call, self._send(call))

    async def get_bytes(self, url: str, max_bytes: int) -> bytes:
        """A message's file, through the ``files`` the client was given (its origins):
        ``LinkRefused`` off them, ``FileTooLarge`` over ``max_bytes``; BackMarketUnavailable
        for 429, 5xx or no answer. Back Market gives files as links to a file host [official:
        "URL of the attachment"]: they are asked without the shop's token, which only ever
        goes to its platform."""
        name = f"GET {_shown(httpx.URL(url).path)}"
        headers = {"User-Agent": self.access.user_agent}
        try:
            return await self._files.fetch(self._http, url, max_bytes, headers=headers)
        except FileUnavailable as exc:
            if exc.status == 429 or exc.status >= 500:
                raise BackMarketUnavailable(name, f"HTTP {exc.status}") from None
            raise
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise BackMarketUnavailable(name, type(exc).__name__) from None

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Basic {self.access.token}",
            "Accept": "application/json",
            "Accept-Language": self.access.country,
            "User-Agent": self.access.user_agent,
        }

    def url(self, path: str) -> str:
        relative = path.lstrip("/")
        if "://" in relative or ".." in relative:
            raise ValueError(f"{path!r} is not a path under Back Market's API")
        return str(self._base.join(relative))

    # --- the deadline ---------------------------------------------------------------------

    async def _bounded(self, call: _Call, work: Awaitable[T]) -> T:
        if self._deadline is None:
            return await work
        try:
            async with asyncio.timeout(self._deadline) as deadline:
                return await work
        except TimeoutError:
            if not deadline.expired():
                raise
        if call.in_doubt and not call.idempotent:
            raise BackMarketOutcomeUnknown(call.name, f"no answer within {self._deadline:g} s")
        log.warning("Back Market call cut at its deadline", extra=self._where(call))
        raise BackMarketUnavailable(
            call.name, f"no answer within {self._deadline:g} s", retry_after=call.retry_after
        )

    # --- one call, with retries -----------------------------------------------------------

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
                raise BackMarketAnswerUnreadable(call.name, last.reason) from None
            raise BackMarketUnavailable(
                call.name,
                f"failed {self._attempts} times; last: {last.reason}",
                retry_after=last.retry_after,
            ) from None

    async def _once(self, call: _Call) -> Any:
        self.sent[call.name] += 1
        call.in_doubt = True
        try:
            async with self._http.stream(
                call.method,
                call.url,
                params=call.params,
                files=_multipart(call),
                headers=self.headers(),
            ) as response:
                await self._check_status(call, response)
                content = await self._read_bounded(call, response, self._max_bytes)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            call.in_doubt = False  # nothing reached Back Market: safe to retry
            log.warning("Back Market unreachable; retrying", extra=self._where(call, exc))
            raise _Transient(type(exc).__name__) from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            self._lost(call, type(exc).__name__)
            log.warning("Back Market call failed; retrying", extra=self._where(call, exc))
            raise _Transient(type(exc).__name__) from None
        call.in_doubt = False
        return self._decoded(call, response, content)

    async def _check_status(self, call: _Call, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        call.in_doubt = False  # an answer came: what it says decides
        if throttled := throttling(response, max_retry_after=self._max_retry_after):
            call.retry_after = throttled.retry_after
            if throttled.too_long:
                raise BackMarketUnavailable(
                    call.name,
                    f"HTTP {status}, retry after {throttled.retry_after:g} s",
                    retry_after=throttled.retry_after,
                )
            log.info("Back Market throttled; backing off", extra=self._where(call))
            raise _Transient(f"HTTP {status}", retry_after=throttled.retry_after)
        if status >= 500:
            self._lost(call, f"HTTP {status}")
            log.warning("Back Market answered %s; retrying", status, extra=self._where(call))
            raise _Transient(f"HTTP {status}")
        document, detail = await self._error_of(call, response)
        if status == 403 and _is_firewall(response, document):
            log.warning("Back Market's firewall challenged the call", extra=self._where(call))
            raise BackMarketUnavailable(
                call.name,
                "HTTP 403 from Back Market's firewall (challenge); held and retried later",
                retry_after=WAF_HOLD_SECONDS,
            )
        if status == 401:
            raise BackMarketCredentialsRefused(f"{call.name}: {detail}")
        raise BackMarketRequestRefused(call.name, status, detail)

    async def _read_bounded(
        self, call: _Call, response: httpx.Response, max_bytes: int, *, refusal: bool = False
    ) -> bytes:
        try:
            return await read_bounded(response, max_bytes)
        except AnswerTooLarge as exc:
            if not refusal:
                self._lost(call, f"answer {exc.size}")
            raise BackMarketAnswerUnreadable(
                call.name, f"answer larger than allowed ({exc.size})"
            ) from None

    def _decoded(self, call: _Call, response: httpx.Response, content: bytes) -> Any:
        if not content.strip():
            if response.status_code == 204 or not call.idempotent:
                return None
            raise _Transient("empty answer", unreadable=True)
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not media.endswith(_JSON_TYPES):
            self._lost(call, f"{media or 'no content type'} answer")
            raise BackMarketAnswerUnreadable(
                call.name, f"{media or 'no content type'} where JSON was expected"
            )
        try:
            return msgspec.json.decode(content)
        except msgspec.DecodeError:
            self._lost(call, "not JSON")
            log.warning("Back Market answer not JSON; retrying", extra=self._where(call))
            raise _Transient("not JSON (truncated?)", unreadable=True) from None

    async def _error_of(self, call: _Call, response: httpx.Response) -> tuple[Any, str]:
        """The refusal's JSON document (None when it is not one) and its reason, without
        the token, shortened."""
        try:
            content = await self._read_bounded(call, response, ERROR_BODY_BYTES, refusal=True)
            document: Any = msgspec.json.decode(content) if content.strip() else None
        except (BackMarketAnswerUnreadable, msgspec.DecodeError, httpx.TransportError):
            document = None
        detail = f"HTTP {response.status_code}"
        reason = _reason(document)
        if reason:
            detail += f" {reason}"
        return document, detail.replace(self.access.token, "[REDACTED]")[:DETAIL_CHARS]

    def _lost(self, call: _Call, reason: str) -> None:
        """The request may have reached Back Market: a call that sends something stops."""
        if not call.idempotent:
            call.in_doubt = False
            raise BackMarketOutcomeUnknown(call.name, reason)

    def _where(self, call: _Call, exc: BaseException | None = None) -> dict[str, str]:
        where = {"call": call.name, "country": self.access.country}
        if exc is not None:
            where["error"] = type(exc).__name__
        return where


def _multipart(call: _Call) -> list[tuple[str, tuple[str | None, bytes, str | None]]] | None:
    """A form as multipart/form-data (its fields as parts without a file name), as Back
    Market takes a message even without files [official]; None for a call without one."""
    if call.form is None:
        return None
    fields: list[tuple[str, tuple[str | None, bytes, str | None]]] = [
        (name, (None, value.encode(), None)) for name, value in call.form.items()
    ]
    return fields + [(name, (file, data, kind)) for name, (file, data, kind) in call.files]


def _is_firewall(response: httpx.Response, document: Any) -> bool:
    """The firewall's 403: an HTML page (Cloudflare's), or bot management's JSON."""
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "text/html" or response.headers.get("server", "").lower() == "cloudflare":
        return True
    errors = document.get("errors") if isinstance(document, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("code") == WAF_CODE for e in errors
    )


def _reason(document: Any) -> str:
    if not isinstance(document, dict):
        return ""
    for key in ("detail", "message", "error_description", "error"):
        value = document.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return str(value["message"])
    errors = document.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("code") or errors[0].get("message") or "")
    return ""


def _shown(path: str) -> str:
    return path.split("?", 1)[0].lstrip("/") or "/"
