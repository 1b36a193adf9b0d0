"""The Cdiscount double: Octopia's seller API v2 (token, discussions, messages, orders)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keybuzz_sandbox.double_entry import Double

from .env import service_env

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox


def _routes(sandbox: Sandbox) -> Sequence[Any]:
    from .routes import cdiscount_routes

    return cdiscount_routes(sandbox)


def _drivers() -> Mapping[str, Any]:
    from .driver import drivers

    return drivers()


DOUBLE = Double("cdiscount", service_env, routes=_routes, drivers=_drivers)
