"""HTTP endpoints of the oauth service (docs/CONTRACTS.md, "HTTP endpoints"): the only module that knows HTTP.

The use cases (``flow.py``, given the ``ports`` every handler gets) return domain
results and raise domain errors; this module turns the results into response
bodies (``schemas.py``), the errors into status codes (the map in ``errors.py``),
sets and reads the browser-binding cookie, and turns the callback's outcome into
the redirect (or JSON) the browser gets.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec
from keybuzz_shared.connectors.credential_form import (
    CredentialFieldInvalid,
    full_match,
    read_credentials,
)
from keybuzz_shared.connectors.registry import connector_for, connectors
from keybuzz_shared.connectors.registry import served as served_now
from keybuzz_shared.connectors.seam import ConnectionKind, Connector, connects_by
from keybuzz_shared.http import ErrorBody, domain_error_handlers, error_response
from keybuzz_shared.tenancy import TenantContext
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import SerializationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter
from litestar.response import Redirect
from litestar.types import ExceptionHandlersMap

from keybuzz_oauth import credential_connect, flow, status_and_disconnect
from keybuzz_oauth.connections import (
    REDIRECT_MARKETPLACES,
    ConnectionReport,
    redirect_marketplaces,
    shop_marketplaces,
)
from keybuzz_oauth.errors import (
    CALLBACK_STATUSES,
    ERROR_STATUSES,
    CallbackFailure,
    InvalidCredentials,
    MarketplaceUnavailable,
)
from keybuzz_oauth.flow import CallbackParams, Started
from keybuzz_oauth.ports import OauthPorts
from keybuzz_oauth.schemas import (
    CATALOGUE_KIND,
    CallbackResult,
    CatalogueAttachments,
    CatalogueEntry,
    CatalogueField,
    CatalogueLimits,
    CatalogueResponse,
    MarketplaceRef,
    ShopStatusResponse,
    StartRequest,
    StartResponse,
    StatusResponse,
    shop_connect_request,
)
from keybuzz_oauth.status_and_disconnect import kept_by

# Said to a client when the marketplace gave no Retry-After of its own.
MARKETPLACE_RETRY_AFTER_SECONDS = 30


def base_path(marketplace: str) -> str:
    """``/api/v1/marketplaces/<the marketplace value, lower case>``."""
    return f"/api/v1/marketplaces/{marketplace.lower()}"


def callback_path(marketplace: str) -> str:
    return f"{base_path(marketplace)}/oauth/callback"


def browser_cookie(marketplace: str) -> str:
    """The HttpOnly nonce binding a consent to the browser that started it (docs/OAUTH.md §9)."""
    return f"keybuzz_{marketplace.lower()}_oauth"


CALLBACK_PATHS = tuple(callback_path(m) for m in REDIRECT_MARKETPLACES)
# The first redirect flow's, as clients name them; every redirect marketplace has its own
# (``callback_path``, ``browser_cookie``).
CALLBACK_PATH = CALLBACK_PATHS[0]
BROWSER_COOKIE = browser_cookie(REDIRECT_MARKETPLACES[0])


def connection_endpoints(marketplace: str) -> tuple[HTTPRouteHandler, HTTPRouteHandler]:
    """The status and disconnect endpoints of one marketplace's connection, whichever its
    kind, for its controller: one use case each (``status_and_disconnect``); the body is
    the kind's (``STATUS_BODIES``)."""
    title = connector_for(marketplace).display_name
    kind = connects_by(connector_for(marketplace))
    assert kind is not None, f"{marketplace}: oauth makes no connection of it"
    body_type, body_of = STATUS_BODIES[kind]
    called = kept_by(marketplace).called

    async def status(self: Controller, ports: OauthPorts, tenant: TenantContext) -> Any:
        return body_of(
            marketplace, await status_and_disconnect.status(ports, tenant.tenant_id, marketplace)
        )

    async def disconnect(self: Controller, ports: OauthPorts, tenant: TenantContext) -> Any:
        return body_of(
            marketplace, await status_and_disconnect.disconnect(ports, tenant, marketplace)
        )

    # The answer's type is the kind's (not a name in this module), for OpenAPI.
    status.__annotations__["return"] = disconnect.__annotations__["return"] = body_type

    return (
        get(
            "/status",
            operation_id=f"get{title}Connection",
            summary=f"The tenant's {title} connection, checked against Vault",
        )(status),
        delete(
            "/connection",
            operation_id=f"disconnect{title}Connection",
            status_code=200,
            summary=f"Disconnect: delete the {called} from Vault, emit connection.disconnected",
        )(disconnect),
    )


def redirect_controller(marketplace: str) -> type[Controller]:
    """The connection endpoints of one marketplace connected by a redirect."""
    name, title = marketplace.lower(), connector_for(marketplace).display_name
    cookie = browser_cookie(marketplace)
    names = flow.redirect_flow(marketplace).callback_names

    class RedirectController(Controller):
        path = base_path(marketplace)
        tags = [name]
        exception_handlers = domain_error_handlers(ERROR_STATUSES)
        status, disconnect = connection_endpoints(marketplace)

        @post(
            "/oauth/start",
            operation_id=f"start{title}Connection",
            status_code=200,
            summary=f"Start connecting the tenant's {title} account",
            description=f"Sets the HttpOnly cookie `{cookie}`: the callback is accepted "
            "only from the browser that holds it. Call with `credentials: 'include'`. "
            '`{"takeover": true}` takes the seller over if another tenant has it connected.',
        )
        async def start(
            self,
            request: Request[Any, Any, Any],
            tenant: TenantContext,
            ports: OauthPorts,
            data: StartRequest | None = None,
        ) -> Response[StartResponse]:
            wanted = data or StartRequest()
            started = await flow.start(
                ports,
                tenant,
                marketplace,
                wanted.marketplace,
                takeover=wanted.takeover,
                presented_nonce=request.cookies.get(cookie),
            )
            nonce = _browser_cookie(request, cookie, started, ports.settings.state_ttl_seconds)
            return Response(_start_body(started), cookies=[nonce])

        @get(
            "/oauth/callback",
            operation_id=f"complete{title}Connection",
            summary=f"{title} redirects the seller's browser here after consent",
            description="Authenticated by `state` and the browser cookie set by `/oauth/start`. "
            f"Redirects to FRONTEND_URL/{name}?status=connected|error&reason=…; a client sending "
            "`Accept: application/json` gets JSON instead.",
        )
        async def callback(
            self,
            request: Request[Any, Any, Any],
            ports: OauthPorts,
            # "state" is a reserved Litestar parameter name, hence the alias.
            oauth_state: str | None = Parameter(query="state", default=None),
            # The marketplace names these (its redirect flow's ``callback_names``; a
            # redirect naming no account has the grant name it, this one left unread).
            account_id: str | None = Parameter(query=names.account_id or "account", default=None),
            code: str | None = Parameter(query=names.code, default=None),
            error: str | None = None,
            error_description: str | None = None,
        ) -> Response[Any]:
            params = CallbackParams(
                oauth_state,
                account_id,
                code,
                error,
                error_description,
                browser_nonce=request.cookies.get(cookie),
            )
            frontend_url = ports.settings.landing_page(marketplace)
            try:
                connection = await flow.callback(ports, params)
            except CallbackFailure as failure:
                result = CallbackResult(
                    status="error", reason=failure.reason, message=failure.message
                )
                return _answer(request, frontend_url, result, CALLBACK_STATUSES[failure.failure])
            result = CallbackResult(
                status="connected",
                tenant_id=connection.tenant_id,
                seller_id=connection.seller_id,
                marketplace_ids=connection.marketplace_ids,
            )
            return _answer(request, frontend_url, result, 200)

    RedirectController.__name__ = RedirectController.__qualname__ = f"{title}Controller"
    return RedirectController


def _start_body(started: Started) -> StartResponse:
    return StartResponse(
        auth_url=started.auth_url,
        expires_at=started.expires_at,
        state=started.state,
        marketplace=started.site.code,
        marketplace_id=started.site.id,
    )


def _status_body(marketplace: str, report: ConnectionReport) -> StatusResponse:
    sites = [MarketplaceRef(code=_code_of(marketplace, m), id=m) for m in report.marketplace_ids]
    return StatusResponse(
        status=report.status,
        marketplace_type=marketplace,
        seller_id=report.seller_id,
        marketplaces=sites,
        region=report.region,
        connected_at=report.connected_at,
        last_error=report.last_error,
        credentials_verified=report.credentials_verified,
        not_served=report.not_served,
    )


def _code_of(marketplace: str, site_id: str) -> str | None:
    try:
        return flow.redirect_flow(marketplace).site(site_id).code
    except ValueError:
        return None


def _browser_cookie(
    request: Request[Any, Any, Any], name: str, started: Started, ttl: float
) -> Cookie:
    """Lax: sent on the marketplace's top-level redirect back to us, not on cross-site
    sub-requests.

    Secure whenever the callback (or this request) is https; scoped to the
    callback's directory, which holds ``/oauth/start`` too so a second start
    from the same browser reuses the nonce.
    """
    callback = urlsplit(started.callback_uri)
    return Cookie(
        key=name,
        value=started.browser_nonce,
        max_age=max(int(ttl), 1),
        path=posixpath.dirname(callback.path) or "/",
        secure=callback.scheme == "https" or request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


def _answer(
    request: Request[Any, Any, Any], frontend_url: str, result: CallbackResult, status: int
) -> Response[Any]:
    """Browsers go back to the product; API clients asking for JSON get the result itself."""
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return Response(result, status_code=status)
    query = {"status": result.status}
    if result.reason:
        query["reason"] = result.reason
    return Redirect(_with_query(frontend_url, query), status_code=303)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


# --- a shop connected with the credentials the seller types (CREDENTIALS) --------------


def _retry_later(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    assert isinstance(exc, MarketplaceUnavailable)
    response = error_response(503, exc.message)
    wait = exc.retry_after or MARKETPLACE_RETRY_AFTER_SECONDS
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


SHOP_ERROR_HANDLERS: ExceptionHandlersMap = {
    **domain_error_handlers(ERROR_STATUSES),
    MarketplaceUnavailable: _retry_later,
}


def shop_controller(marketplace: str) -> type[Controller]:
    """The connection endpoints of one shop marketplace."""
    connector = connector_for(marketplace)
    name, title = marketplace.lower(), connector.display_name
    labels = ", ".join(f.label for f in connector.credential_fields)

    class ShopController(Controller):
        path = base_path(marketplace)
        tags = [name]
        exception_handlers = SHOP_ERROR_HANDLERS
        status, disconnect = connection_endpoints(marketplace)

        async def _connect(
            self, ports: OauthPorts, tenant: TenantContext, data: Any
        ) -> ShopStatusResponse:
            typed = msgspec.to_builtins(data)  # keyed by the fields' JSON names
            connection = await credential_connect.connect(ports, tenant, marketplace, typed)
            return _shop_body(marketplace, ConnectionReport.of(connection))

        # The body's type is built from the connector's fields (not a name in this module).
        _connect.__annotations__["data"] = shop_connect_request(connector)
        connect = post(
            "/connection",
            before_request=_form_check(connector),
            operation_id=f"connect{title}Shop",
            status_code=200,
            summary=f"Connect the tenant's {title} shop with its {labels}",
            description=f"The credentials are checked with {title} first: refused → 422, "
            f"{title} unreachable → 503 with Retry-After, nothing stored either way. A field "
            "missing, unknown or breaking its format → 400 naming it. The secret fields are "
            "kept in Vault only. A shop connected to another tenant → 409. Posting again "
            "replaces the key (rotation) or the shop.",
        )(_connect)

    ShopController.__name__ = ShopController.__qualname__ = f"{title}Controller"
    return ShopController


def _form_check(connector: Connector) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """The connector's check of the body, before the body's type is applied: a refusal names
    the field and the rule its connector declares (``CredentialField``: "<field>: <rule>")
    rather than the type's regular expression. A body that is not a JSON object is left to the type."""

    async def check(request: Request[Any, Any, Any]) -> None:
        try:
            typed = await request.json()
        except SerializationException:
            return  # not JSON: left to the body's type, which says so
        if isinstance(typed, dict):
            try:
                read_credentials(connector.credential_fields, typed)
            except CredentialFieldInvalid as refused:
                raise InvalidCredentials(str(refused)) from None

    return check


def _shop_body(marketplace: str, report: ConnectionReport) -> ShopStatusResponse:
    return ShopStatusResponse(
        status=report.status,
        marketplace_type=marketplace,
        shop_id=report.seller_id,
        connected_at=report.connected_at,
        last_error=report.last_error,
        credentials_verified=report.credentials_verified,
        not_served=report.not_served,
    )


# Two bodies, one per connection kind: a redirect connects a seller account with its sites
# and region (``sellerId``, ``marketplaces``, ``region``); a credential form connects one
# shop on one marketplace, named by the id the seller typed (``shopId``). Clients read
# those names (docs/OAUTH.md).
STATUS_BODIES: dict[ConnectionKind, tuple[type[Any], Callable[[str, ConnectionReport], Any]]] = {
    "OAUTH_REDIRECT": (StatusResponse, _status_body),
    "CREDENTIALS": (ShopStatusResponse, _shop_body),
}


# --- any credential marketplace, served when asked ----------------------------------------


class ShopConnectionController(Controller):
    """The connection endpoints of every marketplace connected with a credential form, by
    its value in the path, read from the registry at each request: a marketplace served
    after the service started (a catalogue entry of a connector family) is connected here.
    A marketplace served at start-up also has its own paths (``shop_controller``, with its
    form's body in OpenAPI); those take precedence and answer alike."""

    path = "/api/v1/marketplaces/{marketplace:str}"
    tags = ["marketplaces"]
    exception_handlers = SHOP_ERROR_HANDLERS

    @post(
        "/connection",
        operation_id="connectShop",
        status_code=200,
        summary="Connect the tenant's shop of a marketplace with its credential form",
        description="`marketplace`: a `credentials` entry of the catalogue "
        "(`GET /api/v1/marketplaces`), whose `fields` make the body. A marketplace no "
        "connector serves now, or one connected by a redirect → 404. Otherwise as each "
        "marketplace's own path: the credentials checked with the marketplace first "
        "(refused → 422, unreachable → 503 with Retry-After, nothing stored either way), a "
        "field missing, unknown or breaking its format → 400 naming it, the secret fields in "
        "Vault only, a shop connected to another tenant → 409.",
    )
    async def connect(
        self, marketplace: str, ports: OauthPorts, tenant: TenantContext, data: dict[str, Any]
    ) -> ShopStatusResponse:
        # The connector's form reads ``data`` (its fields, their rules: 400 naming one).
        connection = await credential_connect.connect(ports, tenant, marketplace, data)
        return _shop_body(connection.marketplace_type, ConnectionReport.of(connection))

    @get(
        "/status",
        operation_id="getShopConnection",
        summary="The tenant's connection of a credential marketplace, checked against Vault",
        description="A marketplace no connector serves now → 404, unless the tenant has a "
        "connection of it: that connection as it is kept, `notServed` saying why it is "
        "unused.",
    )
    async def status(
        self, marketplace: str, ports: OauthPorts, tenant: TenantContext
    ) -> ShopStatusResponse:
        value = _credential_or_unserved(marketplace)
        report = await status_and_disconnect.status(ports, tenant.tenant_id, value)
        return _shop_body(value, report)

    @delete(
        "/connection",
        operation_id="disconnectShop",
        status_code=200,
        summary="Disconnect: delete the shop's key from Vault, emit connection.disconnected",
        description="A marketplace no connector serves now → 404, or 409 when the tenant has "
        "a connection of it: kept as it is (key and row) until the marketplace is served again.",
    )
    async def disconnect(
        self, marketplace: str, ports: OauthPorts, tenant: TenantContext
    ) -> ShopStatusResponse:
        value = _credential_or_unserved(marketplace)
        return _shop_body(value, await status_and_disconnect.disconnect(ports, tenant, value))


def _credential_or_unserved(name: str) -> str:
    """A credential marketplace's value, or one no connector serves now (the use cases
    answer for a kept connection of it); MarketplaceNotServed for a redirect's."""
    marketplace = name.upper()
    if served_now(marketplace):
        return credential_connect.shop_marketplace(name)
    return marketplace


# --- the catalogue: what a tenant can connect ----------------------------------------------


class CatalogueController(Controller):
    path = "/api/v1/marketplaces"
    tags = ["marketplaces"]

    @get(
        "/",
        operation_id="listMarketplaces",
        summary="What a tenant can connect: each marketplace, how, its form and its limits",
        description='Read from the connector registry: a frontend builds its "Connect …" '
        "buttons and credential forms from it. `connectionKind` `redirect`: "
        "`POST …/{marketplace}/oauth/start`; `credentials`: `POST …/{marketplace}/connection` "
        "with a body of `fields` (each by its `name`).",
    )
    async def catalogue(self, tenant: TenantContext) -> CatalogueResponse:
        # Authenticated like every endpoint of the service, though nothing here is the tenant's.
        entries = [_entry(c) for c in connectors() if connects_by(c) is not None]
        return CatalogueResponse(marketplaces=entries)


def _entry(connector: Connector) -> CatalogueEntry:
    limits = connector.limits
    addresses = connector.inbound_addresses
    kind = connects_by(connector)
    assert kind is not None
    return CatalogueEntry(
        marketplace=connector.marketplace.lower(),
        display_name=connector.display_name,
        connection_kind=CATALOGUE_KIND[kind],
        fields=[
            CatalogueField(
                name=f.json_name,
                label=f.label,
                secret=f.secret,
                format=f.format,
                pattern=full_match(f),
                max_length=f.max_length,
            )
            for f in (connector.credential_fields if kind == "CREDENTIALS" else ())
        ],
        limits=CatalogueLimits(
            reply_max_length=limits.max_text_length,
            attachments=CatalogueAttachments(
                max_count=limits.max_attachments,
                max_total_bytes=limits.max_attachment_bytes,
                formats=list(limits.attachment_formats),
            ),
        ),
        inbound_address_setup=addresses.setup if addresses is not None else None,
    )


def routes() -> list[type[Controller]]:
    """Every endpoint, for the connectors the registry serves now."""
    return [
        CatalogueController,
        *(redirect_controller(m) for m in redirect_marketplaces()),
        *(shop_controller(m) for m in shop_marketplaces()),
        ShopConnectionController,
    ]


class _RegistryRoutes(Sequence[type[Controller]]):
    """``routes()`` each time it is read: the app made when the service starts serves the
    connectors registered then, not those of the moment this module was imported."""

    def __getitem__(self, index: Any) -> Any:
        return routes()[index]

    def __len__(self) -> int:
        return len(routes())

    def __iter__(self) -> Iterator[type[Controller]]:
        return iter(routes())  # built once per reading


ROUTES: Sequence[type[Controller]] = _RegistryRoutes()
