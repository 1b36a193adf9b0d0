"""The Back Market double: sellers' care folders (after-sales requests and their
messages) and orders on Back Market's EU platform, under /backmarket."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keybuzz_sandbox.double_entry import Double

from .env import service_env

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox


def _routes(sandbox: Sandbox) -> Sequence[Any]:
    from .routes import backmarket_routes

    return backmarket_routes(sandbox)


def _drivers() -> Mapping[str, Any]:
    from .driver import drivers

    return drivers()


DOUBLE = Double("backmarket", service_env, routes=_routes, drivers=_drivers)
