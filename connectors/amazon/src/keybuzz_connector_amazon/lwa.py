"""Login with Amazon token endpoint: authorization-code exchange and refresh (docs/ARCHITECTURE.md, "Amazon facts").

httpx with TLS always verified (a private CA may be given, never ``verify=False``).
Transient failures — 5xx, 429, timeouts, connection errors — are retried with
exponential back-off and jitter (tenacity); LWA's own refusals are not.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field

import httpx
import msgspec
from keybuzz_shared.redaction import redact_text
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from keybuzz_connector_amazon.credentials import AppCredentials
from keybuzz_connector_amazon.errors import InvalidGrant, LwaError, LwaUnavailable
from keybuzz_connector_amazon.marketplaces import LWA_TOKEN_ENDPOINT

log = logging.getLogger(__name__)

INVALID_GRANT = "invalid_grant"


@dataclass(frozen=True)
class TokenGrant:
    """What LWA returned; tokens are kept out of ``repr``."""

    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str | None = field(default=None, repr=False)


class _TokenResponse(msgspec.Struct):
    access_token: str
    expires_in: int = 3600
    token_type: str = "bearer"
    refresh_token: str | None = None


class _ErrorResponse(msgspec.Struct):
    error: str = "unknown_error"
    error_description: str = ""


class _Transient(Exception):
    """Worth another try."""


def tls_verification(cacert: str | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=cacert) if cacert else True


class LwaClient:
    def __init__(
        self,
        endpoint: str = LWA_TOKEN_ENDPOINT,
        *,
        http: httpx.AsyncClient | None = None,
        cacert: str | None = None,
        timeout: float = 10.0,
        attempts: int = 4,
        max_backoff: float = 4.0,
    ) -> None:
        self.endpoint = endpoint
        self._http = http or httpx.AsyncClient(timeout=timeout, verify=tls_verification(cacert))
        self._attempts = attempts
        self._max_backoff = max_backoff

    async def aclose(self) -> None:
        await self._http.aclose()

    async def exchange_code(self, app: AppCredentials, code: str, redirect_uri: str) -> TokenGrant:
        """``spapi_oauth_code`` → refresh + access token (the code is single-use, 5 minutes)."""
        return await self._request(
            app, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )

    async def refresh(self, app: AppCredentials, refresh_token: str) -> TokenGrant:
        return await self._request(
            app, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def client_credentials(self, app: AppCredentials, scope: str) -> TokenGrant:
        """A grantless token (no seller): e.g. ``sellingpartnerapi::notifications``."""
        return await self._request(app, {"grant_type": "client_credentials", "scope": scope})

    async def _request(self, app: AppCredentials, form: dict[str, str]) -> TokenGrant:
        form = {**form, "client_id": app.client_id, "client_secret": app.client_secret}
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(initial=0.2, max=self._max_backoff),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._post_once(form)
        except RetryError as exc:
            reason = exc.last_attempt.exception()
            raise LwaUnavailable(
                f"LWA at {self.endpoint} failed {self._attempts} times; last: {reason}"
            ) from None
        raise AssertionError("unreachable")  # AsyncRetrying either returns or raises

    async def _post_once(self, form: dict[str, str]) -> TokenGrant:
        try:
            response = await self._http.post(
                self.endpoint, data=form, headers={"Accept": "application/json"}
            )
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            log.warning("LWA request failed; retrying", extra={"error": type(exc).__name__})
            raise _Transient(f"{type(exc).__name__} {exc}") from None
        if response.status_code == 429 or response.status_code >= 500:
            log.warning("LWA answered %s; retrying", response.status_code)
            raise _Transient(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise _refusal(response)
        try:
            body = msgspec.json.decode(response.content, type=_TokenResponse)
        except msgspec.DecodeError as exc:
            raise _Transient(f"unreadable token response: {exc}") from None
        return TokenGrant(body.access_token, body.expires_in, body.refresh_token)


def _refusal(response: httpx.Response) -> LwaError:
    try:
        body = msgspec.json.decode(response.content, type=_ErrorResponse)
    except msgspec.DecodeError:
        body = _ErrorResponse(error=f"http_{response.status_code}")
    description = redact_text(body.error_description)[:300]
    kind = InvalidGrant if body.error == INVALID_GRANT else LwaError
    return kind(body.error, description, response.status_code)
