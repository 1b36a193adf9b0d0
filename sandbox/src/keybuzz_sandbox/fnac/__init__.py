"""The Fnac/Darty double: Fnac's seller API (XML over HTTPS), Darty's shops on the same API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keybuzz_sandbox.double_entry import Double

if TYPE_CHECKING:
    from keybuzz_sandbox.conformance import ShopDriver
    from keybuzz_sandbox.sandbox import Sandbox


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Fnac connector's settings for a sandbox at ``sandbox_url`` (Darty's shops too)."""
    return {"FNAC_API_URL": f"{sandbox_url}/fnac/api.php/"}


def _routes(sandbox: Sandbox) -> Sequence[Any]:
    from .routes import fnac_routes

    return fnac_routes(sandbox)


def _drivers() -> Mapping[str, ShopDriver]:
    from .driver import drivers

    return drivers()


DOUBLE = Double("fnac", service_env, routes=_routes, drivers=_drivers)
