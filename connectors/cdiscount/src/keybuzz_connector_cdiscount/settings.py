"""Settings of Cdiscount's shops on Octopia's seller API (docs/CDISCOUNT.md, "Settings"):
each read from its CDISCOUNT_ variable by every service that talks to the shops."""

from __future__ import annotations

from typing import Annotated

import msgspec
from keybuzz_shared.connectors.kit import ShopSettings
from keybuzz_shared.connectors.seam import ShopApiSettings
from keybuzz_shared.settings import AtLeastOne, Seconds

# The marketplace value of Cdiscount's shops, tickets and orders.
CDISCOUNT = "CDISCOUNT"
API_URL = "https://api.octopia-io.net/seller/v2/"
AUTH_URL = "https://auth.octopia-io.net/auth/realms/maas/protocol/openid-connect/token"
# Octopia answers a discussion search over at most 6 months [official]: a shop's first
# poll never reads further back.
SEARCH_WINDOW_DAYS = 183


class CdiscountApiSettings(ShopApiSettings, frozen=True, kw_only=True):
    """Octopia's seller API as a Cdiscount session and credential check are given it: the
    API (``api_url``) and the token endpoint its calls are authorised by."""

    auth_url: str


class CdiscountSettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE = CDISCOUNT
    PREFIX = "cdiscount"
    VIEW = CdiscountApiSettings
    FILE_HOSTS = ("cdiscount_api_url",)

    # Production's endpoints by default; ``make run`` points them at the sandbox's double.
    cdiscount_api_url: str = API_URL
    cdiscount_auth_url: str = AUTH_URL  # the token endpoint (client credentials)
    # Each connect or read; a shop's call as a whole (its retries, a new token) is cut
    # after CDISCOUNT_CALL_DEADLINE_SECONDS, however slowly the answer comes.
    cdiscount_timeout_seconds: Seconds = 30.0
    cdiscount_call_deadline_seconds: Seconds = 20.0
    # Each connected shop is polled once per interval (docs/POLLER.md, "Marketplace shops").
    cdiscount_poll_interval_seconds: AtLeastOne = 60
    # After a message is stored, mark it read at Octopia (the seller portal shows it handled).
    cdiscount_mark_as_read: bool = True
    # How far back a shop's first poll reads (Octopia searches 6 months at most).
    cdiscount_first_poll_days: Annotated[int, msgspec.Meta(ge=1, le=SEARCH_WINDOW_DAYS)] = 30
    # Each file a buyer's message carries is downloaded up to this size (larger: named only).
    cdiscount_max_attachment_bytes: AtLeastOne = 10 * 1024 * 1024
    # The only origins (scheme://host[:port], separated by commas) a message's files are
    # fetched from, with the shop's token; empty: CDISCOUNT_API_URL's.
    cdiscount_attachment_origins: str = ""
