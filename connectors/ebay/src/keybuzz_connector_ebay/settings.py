"""eBay's settings (docs/EBAY.md, "Settings"), each read from its EBAY_ variable by every
service: its hosts, its calls' deadlines and the consent's."""

from __future__ import annotations

from typing import Any, ClassVar

from keybuzz_shared.connectors.kit import ShopSettings
from keybuzz_shared.connectors.seam import AppCallBudget, RedirectFlowSettings, ShopApiSettings
from keybuzz_shared.settings import AtLeastOne

EBAY = "EBAY"  # the marketplace value of eBay's sellers, tickets and orders
# What a consent grants [official: each method's scope in eBay's descriptions]: the
# seller's conversations, its orders (read only) and its user id and name.
SCOPES = (
    "https://api.ebay.com/oauth/api_scope/commerce.message",
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly",
    "https://api.ebay.com/oauth/api_scope/commerce.identity.readonly",
)

# What one seller's poll spends of the Message API's calls: its two getConversations (members',
# then eBay's) every poll, and a getConversation and an updateConversation (read) for each
# conversation with a new message: 0.2 a poll is a seller with a new conversation every ten
# polls (bench_marketplace_polling measured 2.02 on the double's quiet sellers).
CALLS_PER_POLL = 2.2
# The part of the application's Message API calls polls may spend: the rest is replies'
# (sendMessage, and a getConversation read-back when an answer was lost), 150,000 a day at
# 1,500,000: 15 replies a seller a day at 10,000 sellers. Orders are the Fulfillment API's,
# limited apart (docs/EBAY.md, "Call limits at scale").
POLL_SHARE = 0.9
# What one seller's order sync round spends of the Fulfillment API's calls: a getOrders by
# lastmodifieddate (a page holds 200 changed orders), and another page for a seller with
# more changes than that in an interval, taken as one round in ten [assumed].
CALLS_PER_SYNC = 1.1
# The part of the application's Fulfillment API calls orders' syncs may spend: the rest,
# 300,000 a day at 1,500,000, is the poller's look-ups of a listing's order (at most 3
# getOrders a poll with a members' conversation about a listing: 184,000 a day at 10,000
# sellers with a new one every ten polls), orders' reads by id and its backfills' pages.
SYNC_SHARE = 0.8
# The most calls one seller's poll makes: a flooded inbox's poll ends there, the rest read by
# the next poll, itself put off by what this one spent (docs/EBAY.md, "Call limits at
# scale"): 200 is three full pages of conversations read and marked read (25 a page, a
# getConversation and an updateConversation each) and their orders' look-ups.
MAX_CALLS_PER_POLL = 200


class EbayApiSettings(ShopApiSettings, frozen=True, kw_only=True):
    """eBay's APIs as a session is given them: ``api_url`` (Message and Fulfillment APIs),
    the token endpoint and the Identity API's host."""

    token_url: str
    identity_url: str


class EbayFlowSettings(RedirectFlowSettings, frozen=True, kw_only=True):
    """The consent's settings, and the Identity API's host its code exchange asks."""

    identity_url: str


class EbaySettings(ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE: ClassVar[str] = EBAY
    PREFIX: ClassVar[str] = "ebay"
    VIEW: ClassVar[type[ShopApiSettings]] = EbayApiSettings

    # Production's hosts [official]; ``make run`` points them at the sandbox's double.
    api_url: str = "https://api.ebay.com"
    ebay_identity_url: str = "https://apiz.ebay.com"  # the Identity API's own host
    ebay_token_url: str = "https://api.ebay.com/identity/v1/oauth2/token"
    ebay_consent_url: str = "https://auth.ebay.com"
    ebay_token_cacert: str | None = None  # an extra CA bundle for the token endpoint
    ebay_app_source: str = "default"  # which app's credentials in Vault
    ebay_default_site: str = "FR"
    # Our callback behind the app's RuName (its accept URL at eBay); unset: the app's
    # ``redirect_uri`` in Vault. eBay's consent page is sent the RuName either way.
    ebay_redirect_uri: str | None = None
    # The kit's settings every shop API has (kit.ShopSettings), from EBAY_<NAME>; a
    # message's media are links: no host serves files.
    poll_interval_seconds: AtLeastOne = 120
    # The Message API's calls a day for the whole application, every seller's together
    # [official: 1,500,000 once the app passed eBay's growth check, developer.ebay.com's FAQ;
    # the app's own quota: the Analytics API's getRateLimits, resource commerce.message].
    ebay_message_calls_per_day: AtLeastOne = 1_500_000
    # The Fulfillment API's calls a day for the whole application, every seller's together
    # (orders' syncs, backfills and reads by id, the poller's look-ups of a listing's order)
    # [assumed: the application's 1,500,000, as the Message API's; eBay's quotas are per
    # API resource, the app's own: getRateLimits, resource sell.fulfillment].
    ebay_fulfillment_calls_per_day: AtLeastOne = 1_500_000

    def view_fields(self) -> dict[str, Any]:
        polls = AppCallBudget(
            calls_per_day=self.ebay_message_calls_per_day,
            calls_per_poll=CALLS_PER_POLL,
            poll_share=POLL_SHARE,
        )
        syncs = AppCallBudget(
            calls_per_day=self.ebay_fulfillment_calls_per_day,
            calls_per_poll=CALLS_PER_SYNC,
            poll_share=SYNC_SHARE,
        )
        return {"token_url": self.ebay_token_url,
                "identity_url": self.ebay_identity_url, "app_calls": polls,
                "order_calls": syncs, "max_calls_per_poll": MAX_CALLS_PER_POLL}  # fmt: skip

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
