"""Rakuten France's settings (docs/RAKUTEN.md, "Settings"), each from its RAKUTEN_ variable."""

from __future__ import annotations

from typing import Any, ClassVar

from keybuzz_shared.connectors.kit import ShopSettings
from keybuzz_shared.settings import AtLeastOne, Seconds

# The marketplace value of Rakuten's shops, tickets and orders.
RAKUTEN = "RAKUTEN"
# The seller web services' host [official]: every action is GET /sales_ws?action=….
WS_URL = "https://ws.fr.shopping.rakuten.com/"


class RakutenSettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE: ClassVar[str] = RAKUTEN
    # Rakuten has no read mark, and its messages carry no file [assumed]: nothing is
    # downloaded (RAKUTEN_ATTACHMENT_ORIGINS is read, and unused).
    MARKS_READ: ClassVar[bool] = False
    NOT_FROM_ENVIRONMENT: ClassVar[frozenset[str]] = frozenset({"max_attachment_bytes"})

    # No published call limit [assumed]: the kit's poll a minute (docs/RAKUTEN.md, "Settings").
    api_url: str = WS_URL
    call_deadline_seconds: Seconds = 30.0
    max_attachment_bytes: AtLeastOne = 1

    def view_fields(self) -> dict[str, Any]:
        return {"attachment_origins": ()}
