"""What points a service at the double (its package's ``service_env``), and the double's
own settings (``SANDBOX_{NAME}_<FIELD>``, read by ``config.double_settings``)."""

from __future__ import annotations

from typing import Annotated

import msgspec


class FnacDoubleSettings(msgspec.Struct, frozen=True, kw_only=True):
    """``SANDBOX_FNAC_<FIELD>`` (docs/SANDBOX.md, "Settings")."""

    bench_orders: Annotated[int, msgspec.Meta(gt=0)] = 50_000
    extra_shops: Annotated[int, msgspec.Meta(ge=0)] = 0


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Fnac connector's settings for a sandbox at ``sandbox_url`` (Darty's shops too)."""
    return {"FNAC_API_URL": f"{sandbox_url}/fnac/api.php/"}
