"""The Fnac/Darty double: Fnac's seller API (XML over HTTPS), Darty's shops on the same API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keybuzz_sandbox.double_entry import Double

from .env import service_env

if TYPE_CHECKING:
    from keybuzz_sandbox.sandbox import Sandbox


def _routes(sandbox: Sandbox) -> Sequence[Any]:
    from .routes import fnac_routes

    return fnac_routes(sandbox)


def _drivers() -> Mapping[str, Any]:
    from .driver import drivers

    return drivers()


DOUBLE = Double("fnac", service_env, routes=_routes, drivers=_drivers)
