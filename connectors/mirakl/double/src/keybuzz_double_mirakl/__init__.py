"""The Mirakl double: several operators' instances of Mirakl's seller API (threads,
messages, orders, shop statistics), each under /mirakl/<operator>; what points a service at
it (its package's ``service_env``) and its own settings (``SANDBOX_MIRAKL_<FIELD>``, read
by ``config.double_settings``)."""

from __future__ import annotations

import json
from typing import Annotated

import msgspec
from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.double_kit.settings import ShopsSettings


class MiraklDoubleSettings(ShopsSettings, frozen=True, kw_only=True):
    """``SANDBOX_MIRAKL_<FIELD>`` (docs/SANDBOX.md, "Settings")."""

    frequency_factor: Annotated[float, msgspec.Meta(gt=0)] = 1.0  # of double.FREQUENCIES


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


DOUBLE = Double(
    "mirakl",
    service_env,
    settings=MiraklDoubleSettings,
    routes_at="keybuzz_double_mirakl.routes:mirakl_routes",
    drivers_at="keybuzz_double_mirakl.driver:operated",
    marketplaces=("BOULANGER",),
    listers_at="keybuzz_double_mirakl.driver:lister",
)
