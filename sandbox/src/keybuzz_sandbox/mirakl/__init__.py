"""The Mirakl double: several operators' instances of Mirakl's seller API (threads,
messages, orders, shop statistics), each under /mirakl/<operator>."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keybuzz_sandbox.double_entry import Double

if TYPE_CHECKING:
    from keybuzz_sandbox.conformance import ShopDriver
    from keybuzz_sandbox.sandbox import Sandbox

import json


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Mirakl connector's catalogue for a sandbox at ``sandbox_url``: each seeded
    operator at its instance on the double, with the double's frequencies (the packaged
    catalogue's production entries of these codes are replaced; the others stay)."""
    from .double import FREQUENCIES
    from .operators import OPERATORS

    catalogue = [
        {
            "code": spec.code,
            "name": spec.name,
            "baseUrl": f"{sandbox_url.rstrip('/')}/mirakl/{spec.code}",
            "responseHours": 24,
            "frequencies": FREQUENCIES,
            "source": "sandbox",
        }
        for spec in OPERATORS
    ]
    return {"MIRAKL_CATALOGUE": json.dumps(catalogue)}


def _routes(sandbox: Sandbox) -> Sequence[Any]:
    from .routes import mirakl_routes

    return mirakl_routes(sandbox)


def _drivers() -> Mapping[str, ShopDriver]:
    from .driver import drivers

    return drivers()


DOUBLE = Double("mirakl", service_env, routes=_routes, drivers=_drivers)
