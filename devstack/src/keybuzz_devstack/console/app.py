"""The console's HTTP side: its page, a few reads of its own, and the proxy to the services.

The browser talks only to the console. ``/api/<service>/<rest>`` is forwarded
to ``<service url>/api/<rest>`` with a development JWT minted here for the
tenant the page names in ``X-Tenant-Id`` (tenant-sync's internal endpoints get
``X-Internal-Key`` instead), so no token is ever in the page. The oauth start's
``Set-Cookie`` is passed back unchanged: its path is the callback's directory,
and cookies are per host, not per port, so the browser presents it to the oauth
callback on 127.0.0.1 (docs/OAUTH.md §9).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import msgspec
from keybuzz_shared.auth import issue_token
from keybuzz_shared.http import (
    EXCEPTION_HANDLERS,
    BadRequest,
    JsonRequest,
    NotFound,
    domain_error_handlers,
)
from keybuzz_shared.ids import is_tenant_id
from litestar import Litestar, Request, Response, get, post, route
from litestar.datastructures import ResponseHeader, State
from litestar.di import Provide
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from keybuzz_devstack.console import store
from keybuzz_devstack.console.settings import CHANNEL_PAGES, ConsoleSettings

STATIC = Path(__file__).parent / "static"
# The user the minted tokens name: the logs of the services say who called.
CONSOLE_USER = "dev-console"
# Headers of the services' answers the page needs; the rest (server, date…) stays behind.
PASSED_BACK = ("content-type", "set-cookie")
UPSTREAM_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# The console answers only under the loopback names it is opened with: a page on another
# site that rebinds its own name to 127.0.0.1 is refused by its Host (400).
ALLOWED_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
# Calls that change something (proxied POST/DELETE, the sandbox's buyer messages) must
# carry this header, which a cross-site form or "simple" fetch cannot send without a CORS
# preflight the console never grants, and an Origin, if any, of the console itself.
CONSOLE_HEADER = "x-keybuzz-console"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CrossSiteRefused(Exception):
    """A state-changing call that did not come from the console's own page."""


class ForeignHost(Exception):
    """A request addressed to a name that is not the console's (DNS rebinding)."""


class ServiceUnreachable(Exception):
    """A service (or the sandbox) did not answer: the page shows which and why."""


@dataclass
class Console:
    """What the handlers share: settings, one pooled HTTP client, a small read-only pool."""

    settings: ConsoleSettings
    http: httpx.AsyncClient
    product_pool: asyncpg.Pool

    def token_for(self, tenant_id: str) -> str:
        return issue_token(
            self.settings.jwt_secret,
            CONSOLE_USER,
            tenants=[tenant_id],
            ttl_seconds=self.settings.token_ttl_seconds,
            issuer=self.settings.jwt_issuer,
        )


def _tenant_header(request: Request[Any, Any, Any]) -> str:
    tenant_id = request.headers.get("x-tenant-id", "")
    if not is_tenant_id(tenant_id):
        raise BadRequest("pick a tenant first (X-Tenant-Id missing or not a tenant id)")
    return tenant_id


def _checked_path(path: str) -> str:
    """Only the service's own ``/api/…``: no dot segments to climb out of it."""
    segments = path.split("/")
    if any(s in {".", ".."} for s in segments) or "\\" in path:
        raise BadRequest("the path may not contain '.' or '..' segments")
    return path


def refuse_cross_site(request: Request[Any, Any, Any]) -> None:
    """``before_request``: our own host name; for a change, our header and our Origin."""
    host = request.headers.get("host", "")
    if _host_name(host) not in ALLOWED_HOSTS:
        raise ForeignHost(f"the console answers only on {', '.join(sorted(ALLOWED_HOSTS))}")
    if request.method not in STATE_CHANGING:
        return
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{host}"
    if origin is not None and origin != own:
        raise CrossSiteRefused(f"cross-site request from {origin!r} refused")
    if request.headers.get(CONSOLE_HEADER) != "1":
        raise CrossSiteRefused(f"state-changing calls must carry {CONSOLE_HEADER}: 1")


def _host_name(host: str) -> str:
    """``127.0.0.1:3000`` → ``127.0.0.1``; ``[::1]:3000`` → ``[::1]``."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0].lower()


# --- the page --------------------------------------------------------------------------


# Read once: serving it is then no file I/O in the event loop.
INDEX_HTML = (STATIC / "index.html").read_bytes()


@get(["/", f"{CHANNEL_PAGES}/{{marketplace:str}}"], include_in_schema=False, sync_to_thread=False)
def page(request: Request[Any, Any, Any], marketplace: str = "") -> Response[bytes] | Redirect:
    """One page for the console and each marketplace's callback landing (``?status=…``)."""
    # The consent is bound to a cookie of the host the oauth callback is on (127.0.0.1 in
    # the dev stack); a page opened as localhost would set it for the wrong host.
    if request.url.hostname == "localhost":
        return Redirect(str(request.url.with_replacements(netloc=_loopback(request))))
    return Response(INDEX_HTML, media_type="text/html")


def _loopback(request: Request[Any, Any, Any]) -> str:
    port = request.url.port
    return f"127.0.0.1:{port}" if port else "127.0.0.1"


@get("/health", summary="The console process is up", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


# --- the console's own reads -----------------------------------------------------------


class TenantList(msgspec.Struct, kw_only=True):
    tenants: list[store.ProductTenant]


@get("/api/console/tenants", summary="The product's tenants (the picker)")
async def tenants(console: Console) -> TenantList:
    return TenantList(tenants=await store.product_tenants(console.product_pool))


class BuyerMessageRequest(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    selling_partner_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,32}$")]
    to: Annotated[str, msgspec.Meta(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
    count: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1


@post(
    "/api/console/buyer-messages",
    status_code=200,
    summary="Ask the Amazon sandbox to relay buyer messages to an inbound address",
)
async def buyer_messages(data: BuyerMessageRequest, console: Console) -> Response[bytes]:
    body: dict[str, Any] = {
        "sellingPartnerId": data.selling_partner_id,
        "to": data.to,
        "count": data.count,
    }
    if console.settings.mx_port:  # where the poller's MX listens when it is not on 2525
        body |= {"smtpHost": console.settings.mx_host, "smtpPort": console.settings.mx_port}
    url = f"{console.settings.sandbox_url}/_sandbox/messages"
    answer = await _send(console, "the Amazon sandbox", "POST", url, json=body)
    return Response(answer.content, status_code=answer.status_code, media_type=_type(answer))


# --- the proxy -------------------------------------------------------------------------


@route(
    "/api/{service:str}/{path:path}",
    http_method=["GET", "POST", "DELETE"],
    summary="Forward to a service's /api/… with a development JWT for X-Tenant-Id",
)
async def proxy(
    service: str,
    path: str,
    request: Request[Any, Any, Any],
    console: Console,
) -> Response[bytes]:
    base = console.settings.service_urls().get(service)
    if base is None:
        raise NotFound(
            f"no service {service!r}; known: {', '.join(console.settings.service_urls())}"
        )
    headers = {"accept": "application/json"}
    if service == "tenant-sync":  # internal endpoints: the key, not a user's token
        headers["x-internal-key"] = console.settings.internal_api_key
    else:
        tenant = _tenant_header(request)
        headers |= {"authorization": f"Bearer {console.token_for(tenant)}", "x-tenant-id": tenant}
    if content_type := request.headers.get("content-type"):
        headers["content-type"] = content_type
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = f"{base}/api{_checked_path(path)}" + (f"?{query}" if query else "")
    body = await request.body() if request.method == "POST" else None
    answer = await _send(console, service, request.method, url, headers=headers, content=body)
    passed = [
        ResponseHeader(name=name, value=value)
        for name, value in answer.headers.multi_items()
        if name in PASSED_BACK and name != "content-type"
    ]
    return Response(
        answer.content, status_code=answer.status_code, media_type=_type(answer), headers=passed
    )


async def _send(console: Console, who: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return await console.http.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        where = url.split("/api", 1)[0].split("/_sandbox", 1)[0]
        raise ServiceUnreachable(
            f"{who} ({where}) did not answer ({type(exc).__name__}); is it running?"
        ) from exc


def _type(answer: httpx.Response) -> str:
    return answer.headers.get("content-type", "application/json")


# --- assembly --------------------------------------------------------------------------

ERROR_STATUSES = {
    ServiceUnreachable: 502,
    store.DatabaseUnavailable: 503,
    CrossSiteRefused: 403,
    ForeignHost: 400,
}


def create_app(settings: ConsoleSettings) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # min_size=0: the console starts (and shows the error) even when PostgreSQL is down.
        async with (
            httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT) as http,
            asyncpg.create_pool(settings.product_database_url, min_size=0, max_size=2) as product,
        ):
            app.state.console = Console(settings, http, product)
            yield

    def provide_console(state: State) -> Console:
        console: Console = state.console
        return console

    return Litestar(
        route_handlers=[
            page,
            health,
            tenants,
            buyer_messages,
            proxy,
            create_static_files_router(path="/static", directories=[STATIC]),
        ],
        dependencies={"console": Provide(provide_console, sync_to_thread=False)},
        exception_handlers={**EXCEPTION_HANDLERS, **domain_error_handlers(ERROR_STATUSES)},
        request_class=JsonRequest,
        before_request=refuse_cross_site,
        lifespan=[lifespan],
        openapi_config=None,
    )
