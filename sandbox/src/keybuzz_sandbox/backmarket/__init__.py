"""The Back Market double: sellers' care folders (after-sales requests and their
messages) and orders on Back Market's EU platform, under /backmarket."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keybuzz_sandbox.double_entry import Double

if TYPE_CHECKING:
    from keybuzz_sandbox.conformance import ShopDriver
    from keybuzz_sandbox.sandbox import Sandbox


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Back Market connector's settings for a sandbox at ``sandbox_url``: its EU
    platform (the shops and their tokens are listed at GET /_sandbox/backmarket/shops)."""
    return {"BACKMARKET_EU_URL": f"{sandbox_url}/backmarket"}


def _routes(sandbox: Sandbox) -> Sequence[Any]:
    from .routes import backmarket_routes

    return backmarket_routes(sandbox)


def _drivers() -> Mapping[str, ShopDriver]:
    from .driver import drivers

    return drivers()


DOUBLE = Double("backmarket", service_env, routes=_routes, drivers=_drivers)
