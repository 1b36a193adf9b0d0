"""eBay's settings (docs/EBAY.md, "Settings"), each read from its EBAY_ variable."""

from __future__ import annotations

from typing import Any, ClassVar

from keybuzz_shared.connectors.kit import ShopSettings
from keybuzz_shared.connectors.seam import AppCallBudget, RedirectFlowSettings, ShopApiSettings
from keybuzz_shared.settings import AtLeastOne
from msgspec.structs import replace

EBAY = "EBAY"  # the marketplace value of eBay's sellers, tickets and orders
# What a consent grants [official: each method's scope in eBay's descriptions]: the
# seller's conversations, its orders (read only) and its user id and name.
SCOPES = (
    "https://api.ebay.com/oauth/api_scope/commerce.message",
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly",
    "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly",
)

# The application's calls a day that polls (syncs) may spend, every seller's together,
# each figure reckoned in docs/EBAY.md ("Call limits at scale", "Calls counted as spent").
POLLS = AppCallBudget(calls_per_day=1, calls_per_poll=2.2, poll_share=0.9)
SYNCS = AppCallBudget(calls_per_day=1, calls_per_poll=1.1, poll_share=0.8)
MAX_CALLS_PER_POLL = 200  # a flooded inbox's poll ends there, the next one reads on


class EbayApiSettings(ShopApiSettings, frozen=True, kw_only=True):
    """eBay's APIs as a session is given them, with the token endpoint and Identity API."""

    token_url: str
    identity_url: str


class EbayFlowSettings(RedirectFlowSettings, frozen=True, kw_only=True):
    """The consent's settings, and the Identity API's host its code exchange asks."""

    identity_url: str


class EbaySettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE: ClassVar[str] = EBAY
    VIEW: ClassVar[type[ShopApiSettings]] = EbayApiSettings

    # Production's hosts [official]; ``make run`` points them at the sandbox's double.
    api_url: str = "https://api.ebay.com"
    ebay_identity_url: str = "https://apiz.ebay.com"  # the Identity API's own host
    ebay_token_url: str = "https://api.ebay.com/identity/v1/oauth2/token"
    ebay_consent_url: str = "https://auth.ebay.com"
    ebay_token_cacert: str | None = None  # an extra CA bundle for the token endpoint
    ebay_app_source: str = "default"  # which app's credentials in Vault
    ebay_default_site: str = "FR"
    ebay_redirect_uri: str | None = None  # our callback behind the RuName; unset: the app's
    # The kit's settings every shop API has, from EBAY_<NAME>; no host serves files (links).
    poll_interval_seconds: AtLeastOne = 120
    # Each API's calls a day for the whole application (docs/EBAY.md, "What is official").
    ebay_message_calls_per_day: AtLeastOne = 1_500_000
    ebay_fulfillment_calls_per_day: AtLeastOne = 1_500_000

    def view_fields(self) -> dict[str, Any]:
        return {
            "token_url": self.ebay_token_url,
            "identity_url": self.ebay_identity_url,
            "app_calls": replace(POLLS, calls_per_day=self.ebay_message_calls_per_day),
            "order_calls": replace(SYNCS, calls_per_day=self.ebay_fulfillment_calls_per_day),
            "max_calls_per_poll": MAX_CALLS_PER_POLL,
        }

    def redirect_flow(self, marketplace: str) -> EbayFlowSettings | None:
        if marketplace != EBAY:
            return None
        return EbayFlowSettings(
            default_site=self.ebay_default_site,
            consent_origin=self.ebay_consent_url,
            draft=None,
            redirect_uri=self.ebay_redirect_uri,
            app_source=self.ebay_app_source,
            token_endpoint=self.ebay_token_url,
            token_cacert=self.ebay_token_cacert,
            identity_url=self.ebay_identity_url,
        )
