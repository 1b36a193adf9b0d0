"""Octopia's seller API v2 for one Cdiscount shop: its token, its calls, their failures.

The shop's API client (a client id and secret the seller creates in Octopia's portal) is
traded for a token at Octopia's OpenID Connect endpoint (client credentials). The token is
kept until shortly before it expires; every call carries it (``Authorization: Bearer``)
with the shop's ``SellerId``, and a call refused for its token (401) gets a new one and is
sent once more. Unreachable, timeouts, 5xx, 429 and garbled answers of a read are retried
with jittered back-off (tenacity), a ``Retry-After`` obeyed; a call as a whole (its retries
and a new token included) ends within the call deadline, however slowly its answer comes.
An answer is read up to a size cap and must be JSON. A call that sends something is never
repeated once it may have reached Octopia. Every failure is one of the seam's errors
(errors.py); none quotes the secret or the token. Details: docs/CDISCOUNT.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Unpack
from urllib.parse import urlencode

import httpx
import msgspec
from keybuzz_shared.file_links import NO_FILES, FileLinks, FileUnavailable
from keybuzz_shared.json_calls import CallOptions, CallTerms, JsonCalls

from keybuzz_connector_cdiscount.errors import (
    OctopiaAnswerUnreadable,
    OctopiaCredentialsRefused,
    OctopiaOutcomeUnknown,
    OctopiaRequestRefused,
    OctopiaUnavailable,
)

log = logging.getLogger(__name__)

API_URL = "https://api.octopia-io.net/seller/v2/"
AUTH_URL = "https://auth.octopia-io.net/auth/realms/maas/protocol/openid-connect/token"

# Any answer is refused past this size, unread. The largest we ask for is a page of 100
# discussions with their messages (bodies of up to 5,000 characters): some MB.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# A token is renewed this long before Octopia's ``expires_in`` runs out (at most half of
# its life), so that no call leaves with a token about to lapse.
TOKEN_MARGIN_SECONDS = 120.0
# The token endpoint's OAuth errors that mean "not these credentials" (RFC 6749 5.2).
CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_grant"})
_TERMS = CallTerms(
    "Octopia",
    log,
    unavailable=OctopiaUnavailable,
    unreadable=OctopiaAnswerUnreadable,
    outcome_unknown=OctopiaOutcomeUnknown,
)


class OctopiaCredentials(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    client_secret: str
    seller_id: str

    def __repr__(self) -> str:
        return (
            f"OctopiaCredentials(client_id={self.client_id!r}, client_secret=[REDACTED], "
            f"seller_id={self.seller_id!r})"
        )


class _TokenAnswer(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: float = 300.0  # not given: a short life, renewed on a 401 anyway
    token_type: str = "Bearer"


class _TokenRefused(Exception):
    """The call was refused for its token: get a new one, then send the call once more."""


@dataclass
class _Call:
    name: str  # "GET discussions": the method and the path under the API, for errors and logs
    method: str
    url: str
    params: Mapping[str, str] | None = None
    body: bytes | None = None
    content_type: str | None = None
    # False for calls that send something: only answers proving Octopia did nothing are
    # retried, and a lost answer is OctopiaOutcomeUnknown.
    idempotent: bool = True
    token_request: bool = False
    # A request left and neither an answer nor a refusal came back yet: cut now, a call
    # that sends something has an unknown outcome.
    in_doubt: bool = False
    retry_after: float | None = None  # what the last throttling answer said


@dataclass(frozen=True)
class _Answer:
    body: Any  # decoded JSON; None for an empty answer
    next_link: str | None  # the Link header's rel="next" target, as given


class OctopiaClient(JsonCalls[_Call]):
    """One shop's calls. ``call_deadline``: seconds a call may take in all (None: no cut);
    ``files``: where its messages' files may be fetched from (``get_bytes``)."""

    def __init__(
        self,
        credentials: OctopiaCredentials,
        http: httpx.AsyncClient,
        api_url: str = API_URL,
        auth_url: str = AUTH_URL,
        *,
        files: FileLinks = NO_FILES,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        token_margin: float = TOKEN_MARGIN_SECONDS,
        **options: Unpack[CallOptions],
    ) -> None:
        super().__init__(
            http,
            _TERMS,
            max_response_bytes=max_response_bytes,
            **options,
        )
        self.credentials = credentials
        self._api = httpx.URL(api_url if api_url.endswith("/") else api_url + "/")
        self._auth_url = auth_url
        self._files = files
        self._token_margin = token_margin
        self._token: str | None = None
        self._token_expires = 0.0  # time.monotonic() after which the token is renewed first
        self._token_lock = asyncio.Lock()

    @property
    def seller_id(self) -> str:
        return self.credentials.seller_id

    @property
    def api_url(self) -> str:
        """The API's address, ending with "/": relative paths and files are under it."""
        return str(self._api)

    @property
    def has_token(self) -> bool:
        return self._token is not None

    # --- the calls ------------------------------------------------------------------------

    async def authenticate(self) -> None:
        """Asks for a new token now (OctopiaCredentialsRefused when the client id or secret
        is refused)."""
        call = self._token_call()
        await self._bounded(call, self._renew(stale=self._token))

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """The JSON answer of ``GET <api>/<path>``."""
        call = _Call(f"GET {_shown(path)}", "GET", self._url(path), params=params)
        return (await self._bounded(call, self._authorized(call))).body

    async def get_page(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        cursor: str | None = None,
    ) -> tuple[list[Any], str | None]:
        """One page of a listing and the cursor of the next (None after the last), from
        the answer's ``Link`` header. With a ``cursor``, ``path`` and ``params`` are
        those of the first page and only name the call; ValueError for a cursor this
        client did not hand out. An answer listing more items than ``pageSize`` asked
        is refused (the next pages would skip or repeat some)."""
        url = self._from_cursor(cursor) if cursor is not None else self._url(path)
        call = _Call(
            f"GET {_shown(path)}", "GET", url, params=None if cursor is not None else params
        )
        answer = await self._bounded(call, self._authorized(call))
        items = _items(call, answer.body)
        asked = httpx.URL(url, params=call.params).params.get("pageSize")
        if asked is not None and asked.isdigit() and len(items) > int(asked):
            raise OctopiaAnswerUnreadable(call.name, f"{len(items)} items listed, {asked} asked")
        return items, self._next_cursor(call, answer.next_link)

    async def send_json(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        idempotent: bool = False,
        content_type: str = "application/json",
    ) -> Any:
        """``method`` (POST, PATCH) with ``body`` as JSON; Octopia's JSON answer (None when
        empty). Unless ``idempotent``, it is sent again only after an answer proving
        Octopia did nothing (429, a refused token), and an answer lost after it left is
        OctopiaOutcomeUnknown."""
        call = _Call(
            f"{method} {_shown(path)}",
            method,
            self._url(path),
            body=msgspec.json.encode(body),
            content_type=content_type,
            idempotent=idempotent,
        )
        return (await self._bounded(call, self._authorized(call))).body

    async def get_bytes(self, url: str, max_bytes: int) -> bytes:
        """A file Octopia serves (an attachment's URL, or its path under the API), with the
        shop's token, through the ``files`` the client was given: ``LinkRefused`` off
        their origins, ``FileTooLarge`` over ``max_bytes``, ``FileUnavailable`` for an
        answer without the file; OctopiaUnavailable for 429, 5xx or no answer."""
        target = str(self._api.join(url))
        call = _Call(f"GET {_shown(url)}", "GET", target)
        return await self._bounded(call, self._download(call, max_bytes))

    # --- the token ------------------------------------------------------------------------

    def _token_call(self) -> _Call:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
        }
        return _Call(
            "token",
            "POST",
            self._auth_url,
            body=urlencode(form).encode(),
            content_type="application/x-www-form-urlencoded",
            token_request=True,
        )

    async def _current_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_expires:
            return self._token
        return await self._renew(stale=self._token)

    async def _renew(self, *, stale: str | None) -> str:
        """A new token in place of ``stale``; calls that find theirs refused at once share
        the first one's renewal (one token request)."""
        async with self._token_lock:
            if self._token is not None and self._token != stale:
                if time.monotonic() < self._token_expires:
                    return self._token
            self._token = None
            call = self._token_call()
            granted = _read_token(call, (await self._send(call, None)).body)
            life = max(0.0, granted.expires_in)
            self._token_expires = time.monotonic() + life - min(self._token_margin, life / 2)
            self._token = granted.access_token
            return granted.access_token

    async def _authorized(self, call: _Call) -> _Answer:
        token = await self._current_token()
        try:
            return await self._send(call, token)
        except _TokenRefused:
            log.info("Octopia refused the token; asking for a new one", extra=self._where(call))
        token = await self._renew(stale=token)
        try:
            return await self._send(call, token)
        except _TokenRefused as again:
            raise OctopiaCredentialsRefused(f"a token just granted was refused: {again}") from None

    def _auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "SellerId": self.credentials.seller_id}

    # --- one call, with retries -----------------------------------------------------------

    async def _send(self, call: _Call, token: str | None) -> _Answer:
        return await self._attempted(call, lambda: self._once(call, token))

    async def _once(self, call: _Call, token: str | None) -> _Answer:
        headers = {"Accept": "application/json"}
        if call.content_type is not None:
            headers["Content-Type"] = call.content_type
        if token is not None:
            headers.update(self._auth_headers(token))
        response, content = await self._exchange(
            call,
            lambda: self._http.stream(
                call.method, call.url, params=call.params, content=call.body, headers=headers
            ),
            self._max_bytes,
        )
        return _Answer(
            self._decoded(call, response, content), response.links.get("next", {}).get("url")
        )

    # --- what Octopia says ----------------------------------------------------------------

    async def _refused(self, call: _Call, response: httpx.Response) -> NoReturn:
        status = response.status_code
        error, detail = await self._error_of(response)
        if call.token_request:
            if status == 401 or error in CREDENTIAL_ERRORS:
                raise OctopiaCredentialsRefused(detail)
            raise OctopiaRequestRefused(call.name, status, detail)
        if status == 401:
            raise _TokenRefused(detail)
        if status == 403:  # the token's client has no access to this seller id
            raise OctopiaCredentialsRefused(f"{call.name}: {detail}")
        raise OctopiaRequestRefused(call.name, status, detail)

    async def _error_of(self, response: httpx.Response) -> tuple[str, str]:
        """The OAuth error code (token endpoint) and the reason Octopia gives for a 4xx,
        without a secret, shortened; a body that is not a JSON document gives no reason."""
        document = await self._refusal(response)
        if not isinstance(document, dict):
            document = {}
        error = document.get("error")
        error = error if isinstance(error, str) else ""
        reasons = [
            document.get(key) for key in ("detail", "error_description", "title", "message")
        ] + [error]
        reason = next((r for r in reasons if isinstance(r, str) and r.strip()), "")
        return error, self._detail(response, reason)

    def _shop(self) -> dict[str, str]:
        return {"seller_id": self.credentials.seller_id}

    def _secrets(self) -> tuple[str, ...]:
        return (self.credentials.client_secret, self._token or "")

    # --- files ----------------------------------------------------------------------------

    async def _download(self, call: _Call, max_bytes: int) -> bytes:
        token = await self._current_token()
        for renewed in (False, True):
            try:
                return await self._files.fetch(
                    self._http, call.url, max_bytes, headers=self._auth_headers(token)
                )
            except FileUnavailable as exc:
                if exc.status == 401 and not renewed:
                    token = await self._renew(stale=token)
                    continue
                if exc.status == 401:
                    raise OctopiaCredentialsRefused(
                        f"{call.name}: a new token was refused"
                    ) from None
                if exc.status == 429 or exc.status >= 500:
                    raise OctopiaUnavailable(call.name, f"HTTP {exc.status}") from None
                raise
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise OctopiaUnavailable(call.name, type(exc).__name__) from None
        raise AssertionError("unreachable")  # the second turn returns or raises

    # --- paging ---------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        relative = path.lstrip("/")
        if "://" in relative or relative.startswith(".."):
            raise ValueError(f"{path!r} is not a path under Octopia's API")
        return str(self._api.join(relative))

    def _next_cursor(self, call: _Call, link: str | None) -> str | None:
        """The next page's path and query under the API: Octopia's host in the link is not
        followed (the token goes to Octopia's API only), its path must be the API's."""
        if link is None:
            return None
        target = httpx.URL(call.url).join(link)
        base = self._api.raw_path.decode("ascii")
        where = target.raw_path.decode("ascii")
        if not where.startswith(base) or ".." in where:
            raise OctopiaAnswerUnreadable(call.name, "the next page's link is not under the API")
        return where[len(base) :]

    def _from_cursor(self, cursor: str) -> str:
        if not cursor or cursor.startswith("/") or "://" in cursor or ".." in cursor:
            raise ValueError("not a cursor this client handed out")
        return str(self._api.join(cursor))


def _shown(path: str) -> str:
    """A path as errors and logs name it (no query)."""
    return path.split("?", 1)[0].lstrip("/") or "/"


def _items(call: _Call, body: Any) -> list[Any]:
    """A page's items: ``{"items": [...]}``, or the list itself."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        items: list[Any] = body["items"]
        return items
    raise OctopiaAnswerUnreadable(call.name, "no list of items in the page")


def _read_token(call: _Call, body: Any) -> _TokenAnswer:
    try:
        granted = msgspec.convert(body, _TokenAnswer)
    except msgspec.ValidationError as exc:
        raise OctopiaAnswerUnreadable(call.name, f"not a token: {exc}") from None
    if not granted.access_token or granted.token_type.lower() != "bearer":
        raise OctopiaAnswerUnreadable(call.name, "not a bearer token")
    return granted
