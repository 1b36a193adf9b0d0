"""The requester every shop-API connector calls through (docs/ARCHITECTURE.md, "The
connector kit"), and what a connector declares of its API for it (``ApiSpec``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple, NoReturn, Protocol, TypeVar, Unpack

import httpx
import msgspec

from keybuzz_shared.connectors.kit.auth import (
    Auth,
    CallErrors,
    ClientCredentials,
    LoginToken,
    SignsRequests,
)
from keybuzz_shared.connectors.seam import AllowanceSpent, CallRefused
from keybuzz_shared.file_links import NO_FILES, FileLinks, FileTooLarge, FileUnavailable
from keybuzz_shared.http_calls import (
    AnswerTooLarge,
    Throttled,
    TransientFailure,
    read_bounded,
    retry_after,
)
from keybuzz_shared.json_calls import JSON_TYPES, CallOptions, CallTerms, JsonCalls
from keybuzz_shared.mended import json_decoded
from keybuzz_shared.redaction import KnownSecrets, mask_tokens, remote_excerpt

# --- answers of an API that does not speak JSON, refused as over HTTP (ARCHITECTURE.md) ---


class Garbled(Exception):
    """A server failing mid-answer (its reason the only argument): a read asks again, a
    send's outcome is unknown."""


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
        # The code before the message: what an operator looks up in the marketplace's docs.
        code, message = value.get("code"), str(value["message"]).strip()
        if isinstance(code, str | int) and str(code).strip() and str(code) not in message:
            return f"{str(code).strip()}: {message}"
        return message
    if isinstance(value, list) and value and isinstance(value[0], dict):
        first = value[0]
        return str(first.get("code") or first.get("message") or "").strip()
    return ""


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


T = TypeVar("T")

# A request no strategy signs goes with the client's own authentication (none).
USE_DEFAULT = httpx.USE_CLIENT_DEFAULT
# The token endpoint's OAuth errors that mean "not these credentials" (RFC 6749 5.2).
CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_grant"})
# A requester's call names and URLs kept (``_addressed``), then forgotten all at once.
ADDRESSES_KEPT = 64
# A multipart part: (field, (file name or None, bytes, content type or None)).
Part = tuple[str, tuple[str | None, bytes, str | None]]


class Resend(Enum):
    """When a call is sent again within its deadline."""

    READ = "read"  # it changes nothing: again after no answer, a 429/5xx or a garbled one
    # A read the marketplace allows once per its frequency: an answer that came garbled
    # was counted, so sending it again at once only meets a 429.
    PACED = "paced"
    # It sends something: again only after an answer proving the marketplace did nothing;
    # a lost answer is an unknown outcome.
    SEND = "send"


class Reading(msgspec.Struct, frozen=True, kw_only=True):
    """An answer is read as its API declares (JSON, or a document of the spec's ``answers``,
    its envelope read), ``raw``: kept as its bytes (a download; a call not read);
    ``shape``: a msgspec type (None: JSON as it comes); ``max_bytes``: 0, the cap's;
    ``json``: JSON whatever the API's documents (an OAuth token endpoint's answer)."""

    raw: bool = False
    json: bool = False
    shape: Any = None
    max_bytes: int = 0


class Sending(msgspec.Struct, frozen=True, kw_only=True):
    """``made``: a body made from what the authentication carries, in place of headers."""

    content: bytes | None = None
    content_type: str | None = None
    parts: tuple[Part, ...] = ()
    made: Callable[[Mapping[str, str]], bytes] | None = None


class Call(msgspec.Struct, frozen=True, kw_only=True):
    """``name`` for errors, logs and counts; ``hold``: what a Retry-After holds back;
    ``login``: it trades the credentials for a token (a refusal is the credentials')."""

    name: str
    method: str
    url: str
    params: Mapping[str, str] = msgspec.field(default_factory=dict)
    hold: str = ""
    resend: Resend = Resend.READ
    sending: Sending = Sending()
    reading: Reading = Reading()
    login: bool = False


class _InFlight:
    """A call while it runs, as the shared steps see it (``json_calls.Call``)."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.name = call.name
        self.idempotent = call.resend is not Resend.SEND
        self.in_doubt = False  # a request left and no answer came back yet
        self.retry_after: float | None = None  # what the last throttling answer said
        self.ends_at: float | None = None  # time.monotonic() of the call's deadline


@dataclass(frozen=True)
class _Answer:
    body: Any
    next_link: str | None  # the Link header's rel="next" target, as given


class _AuthRefused(Exception):
    """The call's authentication was refused: renew it, then send the call once more."""

    def __init__(self, detail: str, error: Exception | None = None) -> None:
        super().__init__(detail)
        self.error = error  # the marketplace's own words for it (Refusals.error), if any


class Requester(JsonCalls[_InFlight]):
    """One shop's calls on the API at ``base_url``; ``shop``: what its logs name it by."""

    class Options(CallOptions, total=False):
        """What a connector's client hands the requester unread."""

        files: FileLinks
        max_response_bytes: int | None
        pace: Pace | None

    def __init__(
        self,
        spec: ApiSpec,
        auth: Auth,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        shop: Mapping[str, str] | None = None,
        files: FileLinks = NO_FILES,
        max_response_bytes: int | None = None,
        pace: Pace | None = None,
        **options: Unpack[CallOptions],
    ) -> None:
        cap = max_response_bytes or spec.max_response_bytes
        errors = spec.errors
        terms = CallTerms(
            spec.label,
            spec.log,
            unavailable=errors.unavailable,
            unreadable=errors.unreadable,
            outcome_unknown=errors.outcome_unknown,
        )
        super().__init__(http, terms, max_response_bytes=cap, **options)
        self.spec = spec
        self.errors = spec.errors
        self.auth = auth
        # Asked once: a runtime protocol's check costs tens of µs a call (protocol_checks)
        self._signing = auth.sign if isinstance(auth, SignsRequests) else USE_DEFAULT
        self._base = httpx.URL(base_url if base_url.endswith("/") else base_url + "/")
        self.base_url = str(self._base)
        self.shop = dict(shop or {})
        self._files = files
        rate = spec.requests_per_second
        self._pace = pace if pace is not None or rate is None else RequestRate(rate)
        self._held_until: dict[str, float] = {}  # time.monotonic() before which none leaves
        self.sent: Counter[str] = Counter()  # requests sent by call name, answered or not
        self._allowance_limit: int | None = None  # the allowance's calls it may reach
        self._addresses: dict[tuple[str, str, str], tuple[str, str]] = {}  # _addressed's

    async def get_json(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        operation: str = "",
        paced: bool = False,
        shape: Any = None,
    ) -> Any:
        """``paced``: allowed once per its frequency, a garbled answer not asked again."""
        resend = Resend.PACED if paced else Resend.READ
        call = self._call(
            "GET", path, params, operation=operation, resend=resend, reading=Reading(shape=shape)
        )
        return (await self._run(call)).body

    async def get_page(
        self, path: str, params: Mapping[str, str] | None = None, cursor: str | None = None
    ) -> tuple[list[Any], str | None]:
        """One page and the next one's cursor, from the ``Link`` header (with a ``cursor``,
        ``path`` only names the call). More items than ``pageSize`` asked is refused: the
        next pages would skip or repeat some."""
        call = self._call("GET", path, None if cursor is not None else params)
        if cursor is not None:
            if not cursor or cursor.startswith("/") or "://" in cursor or ".." in cursor:
                raise ValueError("not a cursor this client handed out")
            call = msgspec.structs.replace(call, url=str(self._base.join(cursor)))
        answer = await self._run(call)
        items = self._items(call, answer.body)
        asked = httpx.URL(call.url, params=call.params).params.get("pageSize")
        if asked is not None and asked.isdigit() and len(items) > int(asked):
            raise self.spec.errors.unreadable(
                call.name, f"{len(items)} items listed, {asked} asked"
            )
        return items, self._next_cursor(call, answer.next_link)

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        name: str = "",
        body: Any = None,
        idempotent: bool = True,
        shape: Any = None,
        answered: bool = True,
        max_bytes: int = 0,
        login: bool = False,
    ) -> Any:
        """Any call, its answer read as the API declares; ``name``: the call's own (else its
        method and path); ``body``: JSON, or where the API answers in documents, what makes
        the body from what the authentication carries; ``idempotent=False``: sent again only
        after an answer proving nothing was done; ``answered=False``: not read (None)."""
        sending, answers = Sending(), self.spec.answers
        if body is not None and answers is not None:
            if not callable(body):  # refused here, before any request leaves
                raise TypeError(f"{self.spec.label} answers in documents: a body makes one")
            sending = Sending(made=body, content_type=answers.content_type)
        elif body is not None:
            sending = Sending(content=msgspec.json.encode(body), content_type="application/json")
        call = self._call(
            method,
            path,
            params,
            resend=Resend.READ if idempotent else Resend.SEND,
            name=name,
            sending=sending,
            reading=Reading(raw=not answered, shape=shape, max_bytes=max_bytes),
            login=login,
        )
        answer = (await self._run(call)).body
        return answer if answered else None

    async def post_multipart(self, path: str, parts: Sequence[Part], *, operation: str = "") -> Any:
        """``POST`` a multipart/form-data body, never repeated once it may have arrived."""
        sending = Sending(parts=tuple(parts))
        call = self._call("POST", path, operation=operation, resend=Resend.SEND, sending=sending)
        return (await self._run(call)).body

    async def download(self, path: str, max_bytes: int, *, operation: str = "") -> bytes:
        """A download through the API itself: FileUnavailable for a 404."""
        reading = Reading(raw=True, max_bytes=max_bytes)
        call = self._call("GET", path, operation=operation, reading=reading)
        try:
            answer: bytes = (await self._run(call)).body
        except CallRefused as exc:
            if exc.status == 404:
                raise FileUnavailable(404) from None
            raise
        return answer

    async def get_bytes(self, url: str, max_bytes: int) -> bytes:
        """A file a message links, from the declared file hosts only (``LinkRefused`` off
        them); an error names the call "GET file", never the link."""
        target = self._files.joined(self._base, url)
        # A link is not quoted: its path names the file.
        flight = _InFlight(Call(name="GET file", method="GET", url=target, hold="GET file"))
        return await self._bounded(flight, self._download(flight, target, max_bytes))

    async def token(
        self,
        token_url: str,
        form: bytes,
        *,
        shape: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """An OAuth token endpoint's answer; its refusals of the client are the credentials'."""
        call = Call(
            name="token",
            method="POST",
            url=token_url,
            hold="token",
            sending=Sending(content=form, content_type="application/x-www-form-urlencoded"),
            reading=Reading(shape=shape, json=True),
            login=True,
        )
        return (await self._run(call, headers or {})).body

    async def authenticate(self) -> Any:
        """A new token now, whatever the one kept (a credential check); None for fixed headers."""
        if isinstance(self.auth, ClientCredentials | LoginToken):
            return await self.auth.authenticate(self)
        return None

    def allowance_calls(self) -> int:
        """The calls of the daily allowance sent (0 where the marketplace counts none)."""
        return self.sent[self.spec.allowance_call] if self.spec.allowance_call else 0

    def limit_allowance_calls(self, total: int | None) -> None:
        """Past ``total``, a call of the allowance raises AllowanceSpent, unsent."""
        self._allowance_limit = total

    # --- one call: the deadline, the authentication, the attempts -------------------------

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        operation: str = "",
        resend: Resend = Resend.READ,
        name: str = "",
        **parts: Any,
    ) -> Call:
        """``name``: the call's own, in place of its method and path, and what a Retry-After
        holds; ``parts``: the ``Call``'s others."""
        named, url = self._addressed(method, path, operation)
        return Call(
            name=name or named,
            method=method,
            url=url,
            params={**(params or {}), **self.auth.params},
            hold=name or operation or named,
            resend=resend,
            **parts,
        )

    def _addressed(self, method: str, path: str, operation: str) -> tuple[str, str]:
        """A call's name and URL, kept by the requester (a shop's session): its polls ask
        the same few paths each time, and httpx's URL join is no small part of a call's CPU
        (docs/BENCHMARKS.md). Bounded: paths may hold ids. ValueError for a path that would
        leave the API."""
        key = (method, path, operation)
        if (kept := self._addresses.get(key)) is not None:
            return kept
        relative = path.lstrip("/")
        if "://" in relative or ".." in relative:
            raise ValueError(f"{path!r} is not a path under {self.spec.label}'s API")
        url = str(self._base.join(relative))
        if operation:
            name = f"{operation} {method} {httpx.URL(url).path}"
        else:
            name = f"{method} {path.split('?', 1)[0].lstrip('/') or '/'}"
        if len(self._addresses) >= ADDRESSES_KEPT:
            self._addresses.clear()
        self._addresses[key] = (name, url)
        return name, url

    async def _run(self, call: Call, login_headers: Mapping[str, str] | None = None) -> _Answer:
        """A ``login`` call is sent with ``login_headers`` only (the client's, if any)."""
        flight = _InFlight(call)

        def send(headers: Mapping[str, str]) -> Awaitable[_Answer]:
            return self._attempted(flight, lambda: self._once(flight, headers))

        work = send(login_headers or {}) if call.login else self._authorized(flight, send)
        return await self._bounded(flight, work)

    async def _bounded(self, call: _InFlight, work: Awaitable[T]) -> T:
        if self._deadline is not None:
            call.ends_at = time.monotonic() + self._deadline
        return await super()._bounded(call, work)

    async def _authorized(
        self, call: _InFlight, send: Callable[[Mapping[str, str]], Awaitable[T]]
    ) -> T:
        """Once more with renewed headers when refused, the credentials refused after that."""
        headers = await self.auth.headers(self)
        try:
            return await send(headers)
        except _AuthRefused as refused:
            renewed = await self.auth.renewed(self, headers)
            if renewed is None:
                raise self._auth_failed(refused, call.name) from None
            self.spec.log.info(
                "%s refused the token; asking for a new one",
                self.spec.label,
                extra=self._where(call),
            )
        try:
            return await send(renewed)
        except _AuthRefused as again:
            raise self._auth_failed(again, "a token just granted was refused") from None

    def _auth_failed(self, refused: _AuthRefused, context: str) -> Exception:
        """The marketplace's own words for it, else the credentials refused."""
        return refused.error or self.spec.errors.credentials_refused(f"{context}: {refused}")

    async def _once(self, call: _InFlight, auth_headers: Mapping[str, str]) -> _Answer:
        await self._hold_check(call)
        limit = self._allowance_limit
        if call.name == self.spec.allowance_call and limit is not None:
            if self.sent[call.name] >= limit:
                raise AllowanceSpent(f"{call.name}: the {limit} calls allowed are spent")
        if self._pace is not None:
            await self._pace.before(call.name)
        self.sent[call.name] += 1
        asked, answers = call.call, self.spec.answers
        sending, content = asked.sending, asked.sending.content
        accept = answers.content_type.split(";")[0] if answers else "application/json"
        headers = {"Accept": accept, **auth_headers}
        if sending.made is not None:  # the authentication travels in the body
            headers, content = {"Accept": accept}, sending.made(auth_headers)
        if sending.content_type is not None:
            headers["Content-Type"] = sending.content_type
        response, content = await self._exchange(
            call,
            lambda: self._http.stream(
                asked.method,
                asked.url,
                params=dict(asked.params) or None,
                content=content,
                files=list(sending.parts) or None,
                headers=headers,
                follow_redirects=False,
                auth=self._signing,
            ),
            asked.reading.max_bytes or self._max_bytes,
        )
        body = content if asked.reading.raw else self._decoded(call, response, content)
        return _Answer(body, response.links.get("next", {}).get("url"))

    # --- holds: a Retry-After kept for the calls after ------------------------------------

    async def _hold_check(self, call: _InFlight) -> None:
        """No call leaves inside the Retry-After its operation was given: a call that was
        itself throttled waits out what is left of it, any other fails at once, unsent."""
        left = self._held_until.get(call.call.hold, 0.0) - time.monotonic()
        if left > 0 and call.retry_after is not None:
            await asyncio.sleep(left)
        elif left > 0:
            raise self.spec.errors.unavailable(
                call.name,
                f"held back inside {self.spec.label}'s Retry-After ({left:.1f} s left)",
                retry_after=left,
            )

    def _ends_now(self, call: _InFlight, throttled: Throttled) -> bool:
        """Where the marketplace holds throttled operations, the operation is held for
        the Retry-After, and a wait the call's deadline would cut is not begun."""
        if not self.spec.holds_throttled or throttled.retry_after is None:
            return throttled.too_long
        held = time.monotonic() + throttled.retry_after
        hold = call.call.hold
        self._held_until[hold] = max(held, self._held_until.get(hold, 0.0))
        return throttled.too_long or (call.ends_at is not None and held >= call.ends_at)

    # --- what the marketplace says --------------------------------------------------------

    async def _refused(self, call: _InFlight, response: httpx.Response) -> NoReturn:
        status = response.status_code
        if 300 <= status < 400:
            raise self.spec.errors.unreadable(
                call.name, f"HTTP {status} redirect{self._elsewhere(response)}"
            )
        self._judged(call, response, await self._refusal(response))

    def _judged(
        self, call: _InFlight, response: httpx.Response, document: Any, *, enveloped: bool = False
    ) -> NoReturn:
        """``enveloped``: the refusal said by the answer's envelope, whatever its status."""
        status, errors = response.status_code, self.spec.errors
        refusals: Refusals = self.spec.refusals
        if refusals.held is not None and (held := refusals.held(response, document)):
            self.spec.log.warning(
                "%s held the call: %s", self.spec.label, held.reason, extra=self._where(call)
            )
            raise errors.unavailable(call.name, held.reason, retry_after=held.seconds)
        detail = self._detail(response, refusals.reason(document))
        expired = refusals.expired is not None and refusals.expired(response, document)
        own = refusals.error(call.name, status, document) if refusals.error else None
        if own is not None and not (expired and not call.call.login):
            raise own
        if call.call.login:
            error = document.get("error") if isinstance(document, dict) else None
            if status == 401 or error in CREDENTIAL_ERRORS or enveloped:
                raise errors.credentials_refused(detail)
            raise errors.refused(call.name, status, detail)
        if (status == 401 and 401 in refusals.credentials) or expired:
            raise _AuthRefused(detail, own)
        if status in refusals.credentials:
            raise errors.credentials_refused(f"{call.name}: {detail}")
        raise errors.refused(call.name, status, detail)

    def _elsewhere(self, response: httpx.Response) -> str:
        """Where a redirect points, by host only (a query may hold anything)."""
        hint = f": {self.spec.misaddressed}" if self.spec.misaddressed else ""
        location = response.headers.get("location", "")
        try:
            target = self._base.join(location) if location else None
        except httpx.InvalidURL:
            target = None
        if target is None or not target.host:
            return f" ({self.spec.misaddressed})" if self.spec.misaddressed else ""
        where = "another host" if target.host != self._base.host else "the same host"
        return f" to {where} ({target.host}){hint}"

    async def _check_status(self, call: _InFlight, response: httpx.Response) -> None:
        if self._pace is not None:
            self._pace.after(call.name, response)
        if self._enveloped(response):
            return
        if self.spec.grants_per_period and call.call.login and response.status_code == 429:
            if retry_after(response) is None:  # later: the caller's next poll or sync
                call.in_doubt = False
                raise self.spec.errors.unavailable(call.name, "HTTP 429, no token granted now")
        await super()._check_status(call, response)

    def _enveloped(self, response: httpx.Response) -> bool:
        """An error status answered in the spec's document (not 429 nor the credentials'):
        read like any answer, its envelope says why."""
        answers, status = self.spec.answers, response.status_code
        if answers is None or not 400 <= status < 500 or status == 429:
            return False
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        own = answers.content_type.split(";")[0].strip().lower()
        return status not in self.spec.refusals.credentials and media == own

    def _document(
        self, call: _InFlight, response: httpx.Response, content: bytes, answers: Answers
    ) -> Any:
        redact = KnownSecrets(self._secrets()).redact
        try:
            document = answers.read(content, call.call.reading.max_bytes or self._max_bytes, redact)
        except Garbled as garbled:
            self._lost(call, str(garbled))
            self.spec.log.warning(
                "%s answer unreadable; retrying", self.spec.label, extra=self._where(call)
            )
            self._garbled(call, str(garbled), str(garbled))
        refusal = answers.refusal(document)
        if refusal is None:
            return document
        if refusal.later:
            self.spec.log.info(
                "%s asked to come back later; backing off",
                self.spec.label,
                extra=self._where(call),
            )
            raise TransientFailure(refusal.reason)
        self._judged(call, response, document, enveloped=True)

    def _decoded(self, call: _InFlight, response: httpx.Response, content: bytes) -> Any:
        """With a ``shape``, an answer off it (or past the decoder's depth) is garbled."""
        reading = call.call.reading
        if self.spec.answers is not None and not reading.json:
            return self._document(call, response, content, self.spec.answers)
        if reading.shape is None or not content.strip():
            return super()._decoded(call, response, content)
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not media.endswith(JSON_TYPES):
            self._lost(call, f"{media or 'no content type'} answer")
            raise self.spec.errors.unreadable(call.name, self._not_json(media))
        try:
            return json_decoded(content, reading.shape)
        except (msgspec.DecodeError, RecursionError) as exc:
            self._lost(call, "not of its shape")
            reason = f"not of its shape: {str(exc)[:120]}"
            self._garbled(call, reason, reason, logged=True)

    async def _read_bounded(
        self, call: _InFlight, response: httpx.Response, max_bytes: int
    ) -> bytes:
        reading = call.call.reading
        # A document, or a file given its own cap, is refused over it in its own words.
        documents = self.spec.answers is not None and not reading.json
        if not (reading.max_bytes if reading.raw else documents):
            return await super()._read_bounded(call, response, max_bytes)
        try:
            return await read_bounded(response, max_bytes)
        except AnswerTooLarge as exc:
            if reading.raw:  # a file over the size it may have
                raise FileTooLarge(f"{call.name}: {exc.size}") from None
            self._lost(call, f"answer {exc.size}")  # worded as the XML guard words its size
            declared = f" ({exc.declared} declared)" if exc.declared is not None else ""
            reason = f"response larger than {max_bytes} bytes{declared}"
            raise self.spec.errors.unreadable(call.name, reason) from None

    def _resends_garbled(self, call: _InFlight) -> bool:
        return call.call.resend is not Resend.PACED

    def _not_json(self, media: str) -> str:
        hint = f": {self.spec.misaddressed}" if self.spec.misaddressed else ""
        if media == "text/html":
            return f"an HTML page where JSON was expected ({media}){hint}"
        return f"{media or 'no content type'} where JSON was expected{hint}"

    def _shop(self) -> dict[str, str]:
        return self.shop

    def _secrets(self) -> tuple[str, ...]:
        return tuple(self.auth.secrets())

    async def _download(self, call: _InFlight, url: str, max_bytes: int) -> bytes:
        authorized = self.spec.authorized_files

        async def fetch(headers: Mapping[str, str]) -> bytes:
            try:
                return await self._files.fetch(self._http, url, max_bytes, headers=headers)
            except FileUnavailable as exc:
                if exc.status == 401 and authorized:
                    raise _AuthRefused("HTTP 401") from None
                if exc.status == 429 or exc.status >= 500:
                    raise self.spec.errors.unavailable(call.name, f"HTTP {exc.status}") from None
                raise
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise self.spec.errors.unavailable(call.name, type(exc).__name__) from None

        if authorized:
            return await self._authorized(call, fetch)
        return await fetch(self.auth.public_headers())

    # --- listings by next link ------------------------------------------------------------

    def _items(self, call: Call, body: Any) -> list[Any]:
        """A page's items: ``{"items": [...]}``, or the list itself."""
        if isinstance(body, list):
            return body
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            items: list[Any] = body["items"]
            return items
        raise self.spec.errors.unreadable(call.name, "no list of items in the page")

    def _next_cursor(self, call: Call, link: str | None) -> str | None:
        """The next page's path and query under the API: the link's host is not followed
        (the credentials go to the API only), its path must be the API's."""
        if link is None:
            return None
        target = httpx.URL(call.url).join(link)
        base = self._base.raw_path.decode("ascii")
        where = target.raw_path.decode("ascii")
        if not where.startswith(base) or ".." in where:
            raise self.spec.errors.unreadable(
                call.name, "the next page's link is not under the API"
            )
        return where[len(base) :]
