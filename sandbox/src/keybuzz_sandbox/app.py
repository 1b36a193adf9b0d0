"""create_app(config) -> the sandbox's Litestar application."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, Router, get
from litestar.exceptions import MethodNotAllowedException, NotFoundException

from .config import SandboxConfig
from .doubles import doubles
from .echo import echo_routes
from .errors import not_found_response
from .reply_front import ReplyFront, reply_front_routes
from .sandbox import Sandbox


@get("/health", include_in_schema=False, sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def _unknown_path(_: Request[Any, Any, Any], __: Exception) -> Response[bytes]:
    return not_found_response()


def create_app(config: SandboxConfig | None = None) -> Litestar:
    sb = Sandbox(config or SandboxConfig.from_env())
    doubles_routes = [route for double in doubles().values() for route in double.routes(sb)]
    # After the doubles' own: their relays serve before the front and stop after it.
    front = ReplyFront(sb)
    sb.lifespans.append(front.serving)
    admin = [*echo_routes(sb.echo), *reply_front_routes(front)]
    app = Litestar(
        route_handlers=[
            health,
            Router("/_sandbox", route_handlers=admin, include_in_schema=False),
            *doubles_routes,
        ],
        exception_handlers={
            NotFoundException: _unknown_path,
            MethodNotAllowedException: _unknown_path,
        },
        openapi_config=None,
        # what the doubles serve beside their routes, added by them (evaluated after them)
        lifespan=sb.lifespans,
    )
    app.state.sandbox = sb
    return app
