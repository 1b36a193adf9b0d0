"""The Cdiscount double: Octopia's seller API v2 (token, discussions, messages, orders)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keybuzz_sandbox.double_entry import Double

if TYPE_CHECKING:
    from keybuzz_sandbox.conformance import ShopDriver
    from keybuzz_sandbox.sandbox import Sandbox


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Cdiscount connector's settings for a sandbox at ``sandbox_url``: Octopia's API
    and its token endpoint, both on the sandbox's port under /octopia."""
    return {
        "CDISCOUNT_API_URL": f"{sandbox_url}/octopia/seller/v2/",
        "CDISCOUNT_AUTH_URL": f"{sandbox_url}/octopia/auth/realms/maas/protocol/openid-connect/token",
    }


def _routes(sandbox: Sandbox) -> Sequence[Any]:
    from .routes import cdiscount_routes

    return cdiscount_routes(sandbox)


def _drivers() -> Mapping[str, ShopDriver]:
    from .driver import drivers

    return drivers()


DOUBLE = Double("cdiscount", service_env, routes=_routes, drivers=_drivers)
