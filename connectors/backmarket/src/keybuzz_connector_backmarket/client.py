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

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Unpack

import httpx
from keybuzz_shared.file_links import NO_FILES, FileLinks, FileUnavailable
from keybuzz_shared.json_calls import CallOptions, CallTerms, JsonCalls

from keybuzz_connector_backmarket.errors import (
    BackMarketAnswerUnreadable,
    BackMarketCredentialsRefused,
    BackMarketOutcomeUnknown,
    BackMarketRequestRefused,
    BackMarketUnavailable,
)

log = logging.getLogger(__name__)

# Any answer is refused past this size, unread: a care folder with its messages is some
# tens of kB, a page of 50 orders some hundreds.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# The firewall says neither why nor for how long [official]: its page's own cache life is
# 15 s; the shop is polled again after this.
WAF_HOLD_SECONDS = 60.0
WAF_CODE = "bot-need-challenge"
_TERMS = CallTerms(
    "Back Market",
    log,
    unavailable=BackMarketUnavailable,
    unreadable=BackMarketAnswerUnreadable,
    outcome_unknown=BackMarketOutcomeUnknown,
)


@dataclass(frozen=True)
class ShopAccess:
    """What a shop's calls carry: its token, its country code (``Accept-Language``) and
    the integration's ``User-Agent``."""

    token: str
    country: str
    user_agent: str

    def __repr__(self) -> str:
        return f"ShopAccess(token=[REDACTED], country={self.country!r})"


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


class BackMarketClient(JsonCalls[_Call]):
    """One shop's calls on the platform at ``base_url`` (``https://www.backmarket.fr``).
    ``call_deadline``: seconds a call may take in all (None: no cut)."""

    def __init__(
        self,
        access: ShopAccess,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        files: FileLinks = NO_FILES,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        **options: Unpack[CallOptions],
    ) -> None:
        super().__init__(
            http,
            _TERMS,
            max_response_bytes=max_response_bytes,
            **options,
        )
        self.access = access
        self._base = httpx.URL(base_url if base_url.endswith("/") else base_url + "/")
        self._files = files
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

    # --- one call, with retries -----------------------------------------------------------

    async def _send(self, call: _Call) -> Any:
        return await self._attempted(call, lambda: self._once(call))

    async def _once(self, call: _Call) -> Any:
        self.sent[call.name] += 1
        response, content = await self._exchange(
            call,
            lambda: self._http.stream(
                call.method,
                call.url,
                params=call.params,
                files=_multipart(call),
                headers=self.headers(),
            ),
            self._max_bytes,
        )
        return self._decoded(call, response, content)

    # --- what Back Market says ------------------------------------------------------------

    async def _refused(self, call: _Call, response: httpx.Response) -> NoReturn:
        document = await self._refusal(response)
        detail = self._detail(response, _reason(document))
        status = response.status_code
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

    def _shop(self) -> dict[str, str]:
        return {"country": self.access.country}

    def _secrets(self) -> tuple[str, ...]:
        return (self.access.token,)


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
