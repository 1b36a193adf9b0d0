"""create_app(config) -> the sandbox's Litestar application."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Litestar, Request, Response, Router, get
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.types import ExceptionHandler, ExceptionHandlersMap

from .config import SandboxConfig
from .doubles import served_doubles, unknown_path_answer
from .echo import echo_routes
from .reply_front import ReplyFront, reply_front_routes
from .sandbox import Sandbox


@get("/health", include_in_schema=False, sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def answered(answer: Callable[[], Response[Any]]) -> ExceptionHandler[Any]:
    """An exception handler answering ``answer()`` whatever the request."""

    def handler(_: Request[Any, Any, Any], __: Exception) -> Response[Any]:
        return answer()

    return handler


def create_app(config: SandboxConfig | None = None) -> Litestar:
    sb = Sandbox(config or SandboxConfig.from_env())
    served = served_doubles(sb.config.serving)
    doubles_routes = [route for double in served.values() for route in double.routes(sb)]
    # After the doubles' own: their relays serve before the front and stop after it.
    front = ReplyFront(sb)
    sb.lifespans.append(front.serving)
    admin = [*echo_routes(sb.echo), *reply_front_routes(front)]
    # A request no route takes: answered as the double whose API is unprefixed answers one.
    unknown: ExceptionHandlersMap = {}
    if (answer := unknown_path_answer(served)) is not None:
        unknown = dict.fromkeys((NotFoundException, MethodNotAllowedException), answered(answer))
    app = Litestar(
        route_handlers=[
            health,
            Router("/_sandbox", route_handlers=admin, include_in_schema=False),
            *doubles_routes,
        ],
        exception_handlers=unknown,
        openapi_config=None,
        # what the doubles serve beside their routes, added by them (evaluated after them)
        lifespan=sb.lifespans,
    )
    app.state.sandbox = sb
    return app
