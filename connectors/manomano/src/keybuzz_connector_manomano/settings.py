"""Settings of ManoMano (docs/MANOMANO.md, "Settings"): each read from its MANOMANO_
variable by every service that talks to ManoMano's partner API or reads its mails."""

from __future__ import annotations

from typing import Any, ClassVar

from keybuzz_shared.connectors.kit import ShopSettings
from keybuzz_shared.settings import AtLeastOne, FirstPollDays, Seconds

from keybuzz_connector_manomano.dkim_keys import DKIM_KEYS_VARIABLE, configure

# The marketplace value of ManoMano's connections, tickets and orders.
MANOMANO = "MANOMANO"
# The partner API's host [observed: exewen/manomano-php-sdk, publish/exewen/http.php].
PARTNER_API_URL = "https://partnersapi.manomano.com"


class ManoManoSettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE: ClassVar[str] = MANOMANO
    PREFIX: ClassVar[str] = "manomano"
    FILE_HOSTS: ClassVar[tuple[str, ...]] = ("manomano_api_url",)

    manomano_api_url: str = PARTNER_API_URL
    manomano_timeout_seconds: Seconds = 20.0
    manomano_call_deadline_seconds: Seconds = 30.0
    # ManoMano's buyers write by mail: its partner API is never polled for messages; the
    # view's interval is what orders' freshness rounds are paced by where they ask.
    manomano_poll_interval_seconds: AtLeastOne = 300
    manomano_first_poll_days: FirstPollDays = 14
    manomano_max_attachment_bytes: AtLeastOne = 10 * 1024 * 1024
    # The partner API serves no files: no origin but its own.
    manomano_attachment_origins: str = ""
    # The DKIM keys the relay's mails are checked with, as a JSON object of
    # "<selector>._domainkey.<domain>" -> its TXT record; empty: asked of DNS
    # (docs/MANOMANO.md, "What is checked of a mail"); a bad value refused at start-up.
    manomano_dkim_keys: str = ""

    def view_fields(self) -> dict[str, Any]:
        return {"mark_as_read": False}

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            configure(self.manomano_dkim_keys)  # the relay's key source (dkim_keys.py)
        except ValueError as exc:
            raise ValueError(f"{DKIM_KEYS_VARIABLE}: {exc}") from None
