"""HTTP endpoints of the oauth service (DESIGN.md §4)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from keybuzz_shared.auth import TenantContext
from keybuzz_shared.service import Runtime
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter
from litestar.response import Redirect

from keybuzz_oauth.flow import CallbackFailure, CallbackParams, flow_of
from keybuzz_oauth.schemas import CallbackResult, StartRequest, StartResponse, StatusResponse

BASE_PATH = "/api/v1/marketplaces/amazon"
CALLBACK_PATH = f"{BASE_PATH}/oauth/callback"


class AmazonController(Controller):
    path = BASE_PATH
    tags = ["amazon"]

    @post("/oauth/start", status_code=200, summary="Start connecting the tenant's Amazon account")
    async def start(
        self, runtime: Runtime[Any], tenant: TenantContext, data: StartRequest | None = None
    ) -> StartResponse:
        marketplace = data.marketplace if data else None
        return await flow_of(runtime).start(tenant, marketplace)

    @get(
        "/oauth/callback",
        summary="Amazon redirects the seller's browser here after consent",
        description="Authenticated by `state`. Redirects to FRONTEND_URL?status=connected|error; "
        "a client sending `Accept: application/json` gets JSON instead.",
    )
    async def callback(
        self,
        request: Request[Any, Any, Any],
        runtime: Runtime[Any],
        # "state" is a reserved Litestar parameter name, hence the alias.
        oauth_state: str | None = Parameter(query="state", default=None),
        selling_partner_id: str | None = None,
        spapi_oauth_code: str | None = None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> Response[Any]:
        params = CallbackParams(
            oauth_state, selling_partner_id, spapi_oauth_code, error, error_description
        )
        try:
            connection = await flow_of(runtime).callback(params)
        except CallbackFailure as failure:
            result = CallbackResult(status="error", reason=failure.reason, message=failure.message)
            return _answer(request, runtime, result, failure.http_status)
        result = CallbackResult(
            status="connected", tenant_id=connection.tenant_id, seller_id=connection.seller_id,
            marketplace_ids=connection.marketplace_ids,
        )  # fmt: skip
        return _answer(request, runtime, result, 200)

    @get("/status", summary="The tenant's Amazon connection, checked against Vault")
    async def status(self, runtime: Runtime[Any], tenant: TenantContext) -> StatusResponse:
        return await flow_of(runtime).status(tenant.tenant_id)

    @delete(
        "/connection",
        status_code=200,
        summary="Disconnect: delete the credentials from Vault, emit connection.disconnected",
    )
    async def disconnect(self, runtime: Runtime[Any], tenant: TenantContext) -> StatusResponse:
        return await flow_of(runtime).disconnect(tenant)


def _answer(
    request: Request[Any, Any, Any], runtime: Runtime[Any], result: CallbackResult, status: int
) -> Response[Any]:
    """Browsers go back to the product; API clients asking for JSON get the result itself."""
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return Response(result, status_code=status)
    query = {"status": result.status}
    if result.reason:
        query["reason"] = result.reason
    return Redirect(_with_query(runtime.settings.frontend_url, query), status_code=303)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


ROUTES = [AmazonController]
