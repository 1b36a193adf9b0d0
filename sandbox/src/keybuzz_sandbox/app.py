"""create_app(config) -> the sandbox's Litestar application."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.handlers import HTTPRouteHandler

from . import messaging, notifications, orders_2026, orders_v0, reports, sellers, tokens
from .admin import admin_router
from .config import SandboxConfig
from .consent import consent_routes
from .doubles import doubles
from .lwa import token_route
from .reply_relay import reply_relay_lifespan
from .reports import document_route
from .sandbox import Sandbox
from .spapi import Implementation, not_found_response, operation_route

IMPLEMENTATIONS: dict[str, Implementation] = {
    **orders_v0.IMPLEMENTATIONS,
    **orders_2026.IMPLEMENTATIONS,
    **reports.IMPLEMENTATIONS,
    **tokens.IMPLEMENTATIONS,
    **messaging.IMPLEMENTATIONS,
    **sellers.IMPLEMENTATIONS,
    **notifications.IMPLEMENTATIONS,
}


@get("/health", include_in_schema=False, sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def spapi_routes(sb: Sandbox) -> list[HTTPRouteHandler]:
    # Paths, methods and media types come from the models, not from this code.
    operations = {op.key: op for op in sb.models.all_operations()}
    return [operation_route(sb, operations[key], impl) for key, impl in IMPLEMENTATIONS.items()]


def _unknown_path(_: Request[Any, Any, Any], __: Exception) -> Response[bytes]:
    return not_found_response()


def create_app(config: SandboxConfig | None = None) -> Litestar:
    sb = Sandbox(config or SandboxConfig.from_env())
    app = Litestar(
        route_handlers=[
            health,
            token_route(sb),
            *consent_routes(sb),
            document_route(sb),
            admin_router(sb),
            notifications.notifications_admin_router(sb),
            *spapi_routes(sb),
            *(route for double in doubles().values() for route in double.routes(sb)),
        ],
        exception_handlers={
            NotFoundException: _unknown_path,
            MethodNotAllowedException: _unknown_path,
        },
        openapi_config=None,
        # the SMTP relay for sellers' replies; notification delivery stops with the app
        lifespan=[reply_relay_lifespan, notifications.notifications_lifespan],
    )
    app.state.sandbox = sb
    return app
