"""Settings of Rakuten France's shops (docs/RAKUTEN.md, "Settings"): each read from its
RAKUTEN_ variable by every service that talks to the shops."""

from __future__ import annotations

from typing import Any, ClassVar

from keybuzz_shared.connectors.kit import ShopSettings
from keybuzz_shared.settings import AtLeastOne, FirstPollDays, Seconds

# The marketplace value of Rakuten's shops, tickets and orders.
RAKUTEN = "RAKUTEN"
# The seller web services' host [official]: every action is GET /sales_ws?action=….
WS_URL = "https://ws.fr.shopping.rakuten.com/"


class RakutenSettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE: ClassVar[str] = RAKUTEN
    PREFIX: ClassVar[str] = "rakuten"

    # Production's host by default; ``make run`` points it at the sandbox's double.
    rakuten_api_url: str = WS_URL
    rakuten_timeout_seconds: Seconds = 30.0
    rakuten_call_deadline_seconds: Seconds = 30.0
    # Rakuten publishes no call limit for these actions [assumed]: a shop is polled once a
    # minute, each poll one getitemtodolist and one getiteminfos per item to do.
    rakuten_poll_interval_seconds: AtLeastOne = 60
    # How far back a shop's first poll reads its items' messages.
    rakuten_first_poll_days: FirstPollDays = 14
    # Rakuten's messages carry no file [assumed]: nothing is downloaded.
    rakuten_attachment_origins: str = ""

    def view_fields(self) -> dict[str, Any]:
        return {"mark_as_read": False, "max_attachment_bytes": 1, "attachment_origins": ()}
