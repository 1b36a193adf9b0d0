"""ManoMano's settings (docs/MANOMANO.md, "Settings"), each from its MANOMANO_ variable."""

from __future__ import annotations

from typing import ClassVar

from keybuzz_shared.connectors.kit import ShopSettings
from keybuzz_shared.settings import AtLeastOne, Seconds

from keybuzz_connector_manomano.relay import DKIM_KEYS

# The marketplace value of ManoMano's connections, tickets and orders.
MANOMANO = "MANOMANO"
# The partner API's host [observed: exewen/manomano-php-sdk, publish/exewen/http.php].
PARTNER_API_URL = "https://partnersapi.manomano.com"


class ManoManoSettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE: ClassVar[str] = MANOMANO
    # The partner API serves no files: no origin but its own.
    API_SERVES_FILES: ClassVar[bool] = True
    # Its buyers' mails are read by the relay: no MANOMANO_MARK_AS_READ.
    MARKS_READ: ClassVar[bool] = False

    api_url: str = PARTNER_API_URL
    timeout_seconds: Seconds = 20.0
    call_deadline_seconds: Seconds = 30.0
    # ManoMano's buyers write by mail: its partner API is never polled for messages; the
    # view's interval is what orders' freshness rounds are paced by where they ask.
    poll_interval_seconds: AtLeastOne = 300
    # The DKIM keys the relay's mails are checked with, as a JSON object of
    # "<selector>._domainkey.<domain>" -> its TXT record; empty: asked of DNS
    # (docs/MANOMANO.md, "What is checked of a mail"); a bad value refused at start-up.
    manomano_dkim_keys: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        DKIM_KEYS.configure(self.manomano_dkim_keys)  # the relay's key source
