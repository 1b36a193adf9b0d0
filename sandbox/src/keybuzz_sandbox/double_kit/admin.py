"""What a double's admin endpoints (under /_sandbox/<name>, development use, no
authentication) share: what a request names looked up, or refused with the admin's 404
(``{"error": "unknown …"}``) by the router every double's admin is served on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from litestar import Request, Response, Router

from keybuzz_sandbox.answers import admin_error

T = TypeVar("T")


class Unknown(Exception):
    """What an admin request names is not in the double (its 404)."""


def known(value: T | None, what: str) -> T:
    """``value``, or ``Unknown`` ("unknown <what>") when there is none."""
    if value is None:
        raise Unknown(f"unknown {what}")
    return value


def _unknown(request: Request[Any, Any, Any], refused: Exception) -> Response[bytes]:
    return admin_error(404, str(refused))


def admin_router(path: str, handlers: Sequence[Any]) -> Router:
    """The admin's ``handlers`` under ``path``, out of the schema; a lookup's ``Unknown``
    answered with its 404."""
    return Router(
        path,
        route_handlers=list(handlers),
        include_in_schema=False,
        exception_handlers={Unknown: _unknown},
    )
