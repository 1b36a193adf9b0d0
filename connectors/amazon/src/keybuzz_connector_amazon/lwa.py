"""Login with Amazon token endpoint: authorization-code exchange and refresh (docs/ARCHITECTURE.md, "Amazon facts").

httpx with TLS always verified (a private CA may be given, never ``verify=False``).
Transient failures — 5xx, 429, timeouts, connection errors, a garbled answer — are
retried with exponential back-off and jitter, an answer is read up to a cap (the
connector kit's requester, ``keybuzz_shared.connectors.kit``); LWA's own refusals are not
retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import msgspec
from keybuzz_shared.connectors.kit import ApiSpec, HeaderAuth, Requester
from keybuzz_shared.connectors.seam import RedirectApp
from keybuzz_shared.tls import verifying

from keybuzz_connector_amazon.credentials import AppCredentials
from keybuzz_connector_amazon.errors import InvalidGrant, LwaError, LwaUnavailable
from keybuzz_connector_amazon.marketplaces import LWA_TOKEN_ENDPOINT

log = logging.getLogger(__name__)


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


class LwaClient:
    """LWA's token calls on the kit's requester; a code refused once used is refused
    again, never doubled, so every grant is asked again after an answer proving nothing
    was done, a lost one included."""

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
        api = ApiSpec.token_endpoint(
            f"LWA at {endpoint}",
            log,
            refused=LwaError,
            invalid=InvalidGrant,
            unavailable=LwaUnavailable,
        )
        self._http = http or httpx.AsyncClient(timeout=timeout, verify=verifying(cacert))
        self._requester = Requester(
            api,
            HeaderAuth({}),
            self._http,
            endpoint,
            attempts=attempts,
            initial_backoff=0.2,
            max_backoff=max_backoff,
            max_retry_after=max_backoff,  # a token is waited for by a poll or a person
        )
        self.endpoint = endpoint

    async def aclose(self) -> None:
        await self._http.aclose()

    async def exchange_code(self, app: RedirectApp, code: str, redirect_uri: str) -> TokenGrant:
        """``spapi_oauth_code`` → refresh + access token (the code is single-use, 5 minutes):
        the seam's ``CodeExchange`` (the app's client id and secret authenticate)."""
        if not isinstance(app, AppCredentials):
            raise TypeError(f"LWA exchanges codes for an AppCredentials, not {type(app)!r}")
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
        body: _TokenResponse = await self._requester.token(
            self.endpoint, urlencode(form).encode(), shape=_TokenResponse
        )
        return TokenGrant(body.access_token, body.expires_in, body.refresh_token)
