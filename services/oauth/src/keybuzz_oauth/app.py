"""HTTP endpoints of the oauth service (DESIGN.md §4): the only module that knows HTTP.

The use cases (``flow.py``) raise domain errors; this module gives them their
status codes, sets and reads the browser-binding cookie, and turns the
callback's outcome into the redirect (or JSON) the browser gets.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from keybuzz_shared.auth import TenantContext
from keybuzz_shared.http import ErrorStatuses, domain_error_handlers
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.params import Parameter
from litestar.response import Redirect

from keybuzz_oauth.errors import (
    AmazonNotConfigured,
    CallbackFailure,
    CredentialsUnavailable,
    Failure,
    InvalidMarketplace,
    NotConnected,
)
from keybuzz_oauth.flow import CallbackParams, OauthFlow, Started
from keybuzz_oauth.schemas import CallbackResult, StartRequest, StartResponse, StatusResponse

BASE_PATH = "/api/v1/marketplaces/amazon"
CALLBACK_PATH = f"{BASE_PATH}/oauth/callback"
# HttpOnly nonce binding a consent to the browser that started it (docs/OAUTH.md §9).
BROWSER_COOKIE = "keybuzz_amazon_oauth"

# What each refusal of the use cases means in HTTP (the body is the error's message).
ERROR_STATUSES: ErrorStatuses = {
    InvalidMarketplace: 400,
    NotConnected: 404,
    AmazonNotConfigured: 503,
    CredentialsUnavailable: 503,
}
_CALLBACK_STATUSES = {Failure.REFUSED: 400, Failure.UPSTREAM: 502, Failure.UNAVAILABLE: 503}


class AmazonController(Controller):
    path = BASE_PATH
    tags = ["amazon"]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)  # type: ignore[assignment]

    @post(
        "/oauth/start",
        status_code=200,
        summary="Start connecting the tenant's Amazon account",
        description=f"Sets the HttpOnly cookie `{BROWSER_COOKIE}`: the callback is accepted "
        "only from the browser that holds it. Call with `credentials: 'include'`. "
        '`{"takeover": true}` takes the seller over if another tenant has it connected.',
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        tenant: TenantContext,
        flow: OauthFlow,
        data: StartRequest | None = None,
    ) -> Response[StartResponse]:
        presented = request.cookies.get(BROWSER_COOKIE)
        started = await flow.start(tenant, data or StartRequest(), presented)
        cookie = _browser_cookie(request, started, flow.settings.state_ttl_seconds)
        return Response(started.response, cookies=[cookie])

    @get(
        "/oauth/callback",
        summary="Amazon redirects the seller's browser here after consent",
        description="Authenticated by `state` and the browser cookie set by `/oauth/start`. "
        "Redirects to FRONTEND_URL?status=connected|error&reason=…; a client sending "
        "`Accept: application/json` gets JSON instead.",
    )
    async def callback(
        self,
        request: Request[Any, Any, Any],
        flow: OauthFlow,
        # "state" is a reserved Litestar parameter name, hence the alias.
        oauth_state: str | None = Parameter(query="state", default=None),
        selling_partner_id: str | None = None,
        spapi_oauth_code: str | None = None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> Response[Any]:
        params = CallbackParams(
            oauth_state, selling_partner_id, spapi_oauth_code, error, error_description,
            browser_nonce=request.cookies.get(BROWSER_COOKIE),
        )  # fmt: skip
        try:
            connection = await flow.callback(params)
        except CallbackFailure as failure:
            result = CallbackResult(status="error", reason=failure.reason, message=failure.message)
            return _answer(request, flow, result, _CALLBACK_STATUSES[failure.failure])
        result = CallbackResult(
            status="connected", tenant_id=connection.tenant_id, seller_id=connection.seller_id,
            marketplace_ids=connection.marketplace_ids,
        )  # fmt: skip
        return _answer(request, flow, result, 200)

    @get("/status", summary="The tenant's Amazon connection, checked against Vault")
    async def status(self, flow: OauthFlow, tenant: TenantContext) -> StatusResponse:
        return await flow.status(tenant.tenant_id)

    @delete(
        "/connection",
        status_code=200,
        summary="Disconnect: delete the credentials from Vault, emit connection.disconnected",
    )
    async def disconnect(self, flow: OauthFlow, tenant: TenantContext) -> StatusResponse:
        return await flow.disconnect(tenant)


def _browser_cookie(request: Request[Any, Any, Any], started: Started, ttl: float) -> Cookie:
    """Lax: sent on Amazon's top-level redirect back to us, not on cross-site sub-requests.

    Secure whenever the callback (or this request) is https; scoped to the
    callback's directory, which holds ``/oauth/start`` too so a second start
    from the same browser reuses the nonce.
    """
    callback = urlsplit(started.callback_uri)
    return Cookie(
        key=BROWSER_COOKIE,
        value=started.browser_nonce,
        max_age=max(int(ttl), 1),
        path=posixpath.dirname(callback.path) or "/",
        secure=callback.scheme == "https" or request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


def _answer(
    request: Request[Any, Any, Any], flow: OauthFlow, result: CallbackResult, status: int
) -> Response[Any]:
    """Browsers go back to the product; API clients asking for JSON get the result itself."""
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return Response(result, status_code=status)
    query = {"status": result.status}
    if result.reason:
        query["reason"] = result.reason
    return Redirect(_with_query(flow.settings.frontend_url, query), status_code=303)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


ROUTES = [AmazonController]
