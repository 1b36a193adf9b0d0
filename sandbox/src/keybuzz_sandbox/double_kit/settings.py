"""What the doubles of seeded shops share in their settings: a double's own Struct
(``SANDBOX_<NAME>_<FIELD>``, docs/SANDBOX.md "Settings") derives from one of these, a type
of its own by which the sandbox's config tells it apart; and a connector pointed at one
API path of the sandbox."""

from __future__ import annotations

from typing import Annotated

import msgspec

from keybuzz_sandbox.double_entry import ServiceEnv


class ShopsSettings(msgspec.Struct, frozen=True, kw_only=True):
    extra_shops: Annotated[int, msgspec.Meta(ge=0)] = 0  # small shops beyond the seeded ones


class BenchedShopsSettings(ShopsSettings, frozen=True, kw_only=True):
    bench_orders: Annotated[int, msgspec.Meta(gt=0)] = 50_000  # in 90 days of its largest shop


def api_at(variable: str, path: str) -> ServiceEnv:
    """A connector's settings naming its API's URL (``variable``) at ``path`` of the
    sandbox."""
    return lambda sandbox_url: {variable: f"{sandbox_url}{path}"}
