"""The Rakuten France double: sellers' sold items, their messages and Rakuten's mails, and
their sales, on Rakuten's seller web services (``GET /rakuten/sales_ws?action=…``)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from keybuzz_sandbox.double_entry import Double

API = "/rakuten"


class RakutenDoubleSettings(msgspec.Struct, frozen=True, kw_only=True):
    """``SANDBOX_RAKUTEN_<FIELD>`` (docs/SANDBOX.md, "Settings")."""

    extra_shops: Annotated[int, msgspec.Meta(ge=0)] = 0


def service_env(sandbox_url: str) -> dict[str, str]:
    return {"RAKUTEN_API_URL": f"{sandbox_url}{API}/"}


DOUBLE = Double(
    "rakuten",
    service_env,
    settings=RakutenDoubleSettings,
    routes_at="keybuzz_double_rakuten.routes:routes",
    drivers_at="keybuzz_double_rakuten.driver:drivers",
)
