"""What points a service at the double (its package's ``service_env``), and the double's
own settings (``SANDBOX_{NAME}_<FIELD>``, read by ``config.double_settings``)."""

from __future__ import annotations

from typing import Annotated

import msgspec


class BackMarketDoubleSettings(msgspec.Struct, frozen=True, kw_only=True):
    """``SANDBOX_BACKMARKET_EXTRA_SHOPS``: small shops beyond the seeded ones (shops.py)."""

    extra_shops: Annotated[int, msgspec.Meta(ge=0)] = 0


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Back Market connector's settings for a sandbox at ``sandbox_url``: its EU
    platform (the shops and their tokens are listed at GET /_sandbox/backmarket/shops)."""
    return {"BACKMARKET_EU_URL": f"{sandbox_url}/backmarket"}
