"""The eBay double: eBay's consent page, token endpoint, Identity, Message and Fulfillment
APIs under /ebay, its admin under /_sandbox/ebay; its constants (its application, its
tokens' lives, eBay's call limits), its own settings (``SANDBOX_EBAY_<FIELD>``) and what
points a service at it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.double_kit.settings import ShopsSettings

ROOT = "/ebay"
CLIENT_ID, RU_NAME = "KeyBuzz-KeyBuzz-SBX-0a1b2c3d", "KeyBuzz-KeyBuzz-KeyBuz-abcdef"
ACCESS_SECONDS, REFRESH_SECONDS = 7200, 47_304_000  # eBay's user tokens' lives [official]
# eBay's call limits a day (per application, per eBay user), counted by the double as
# docs/EBAY.md says ("What is official and what is assumed": call limits, REST quotas).
APP_CALLS_PER_DAY, USER_CALLS_PER_DAY = 1_500_000, 20_000
# The token endpoint's refresh-token grants a day for an application [official,
# developer.ebay.com, "OAuth rate limits"]; past them eBay answers 429 [observed: a bug
# report on davidtsadler/ebay-sdk-php, a refresh answered 429 with an "errors" body], the
# body's words assumed.
GRANTS_PER_DAY = 50_000
PACIFIC = ZoneInfo("America/Los_Angeles")
SELLERS = ("1", "2", "3")
EXTRA_NUMBERS = 1_000  # the extra sellers' numbers: 1001, 1002, …


class EbayDoubleSettings(ShopsSettings, frozen=True, kw_only=True):
    """``SANDBOX_EBAY_<FIELD>`` (docs/SANDBOX.md, "Settings")."""


# Each of the connector's credential fields as ``GET /_sandbox/ebay/shops`` lists it.
LISTED_AS = {
    "user_id": "userId",
    "refresh_token": "refreshToken",
    "client_id": "clientId",
    "client_secret": "clientSecret",
}


def consent_fields(seller: Mapping[str, Any]) -> dict[str, str]:
    """A seller the admin lists as its consent's fields (the connector's credentials)."""
    return {field: seller[listed] for field, listed in LISTED_AS.items()}


def service_env(url: str) -> dict[str, str]:
    return {
        "EBAY_API_URL": f"{url}{ROOT}",
        "EBAY_IDENTITY_URL": f"{url}{ROOT}",
        "EBAY_TOKEN_URL": f"{url}{ROOT}/identity/v1/oauth2/token",
        "EBAY_CONSENT_URL": f"{url}{ROOT}",
    }


DOUBLE = Double(
    "ebay",
    service_env,
    settings=EbayDoubleSettings,
    routes_at="keybuzz_double_ebay.routes:routes",
    drivers_at="keybuzz_double_ebay.driver:EbayDriver",
    marketplaces=("EBAY",),
)
