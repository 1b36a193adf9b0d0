"""Amazon's settings (docs/CONTRACTS.md, "Configuration"): its connector's
(``settings_type``), read with every service's settings (``MarketplaceSettings.of``).
Defaults are Amazon's production endpoints, so switching from the sandbox to
Amazon is configuration only (``make run`` points them at the sandbox).
"""

from __future__ import annotations

from typing import ClassVar

from keybuzz_shared.connectors.connector_settings import ConnectorSettings
from keybuzz_shared.connectors.seam import RedirectFlowSettings

from keybuzz_connector_amazon.dkim_keys import DKIM_KEYS
from keybuzz_connector_amazon.marketplaces import LWA_TOKEN_ENDPOINT
from keybuzz_connector_amazon.names import AMAZON


class AmazonSettings(ConnectorSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {"amazon_redirect_uri": "OAUTH_REDIRECT_URI"}

    lwa_endpoint: str = LWA_TOKEN_ENDPOINT
    # Extra CA bundle for LWA (a TLS-intercepting proxy); verification itself is never off.
    lwa_cacert: str | None = None
    # Which app's credentials: "default" → secret/keybuzz/amazon_spapi/app,
    # anything else → secret/keybuzz/amazon_spapi/app/<source> (seeds: a temporary app first).
    amazon_app_source: str = "default"
    # One endpoint for every region (the sandbox); unset → the region's SP-API endpoint.
    spapi_endpoint: str | None = None

    # --- the redirect flow (oauth): redirect_flow
    # Amazon's callback as registered with the app; unset: the app credential's redirect_uri.
    amazon_redirect_uri: str | None = None
    # Replaces the marketplace's Seller Central origin (the sandbox in development).
    seller_central_url: str | None = None
    # Unset: the app credential's `draft` flag decides whether version=beta is sent.
    amazon_app_draft: bool | None = None
    # The marketplace of a start request that names none.
    amazon_default_marketplace: str = "FR"
    # The poller's demo mode (docs/POLLER.md, "Mock source"): polls read fixed relay mails
    # about the sandbox seller's orders instead of Dovecot. Refused when KEYBUZZ_ENV is
    # production-like.
    amazon_use_mock: bool = False
    # The DKIM keys Amazon's notices and support mails are checked with, as a JSON object
    # of "<selector>._domainkey.<domain>" -> its TXT record; empty: asked of DNS (the
    # sandbox gives its double's); a bad value refused at start-up.
    amazon_dkim_keys: str = ""
    MAIL_RELAY_DEMO_ENV: ClassVar[str] = "AMAZON_USE_MOCK"

    @property
    def mail_relay_demo(self) -> bool:
        return self.amazon_use_mock

    def redirect_flow(self, marketplace: str) -> RedirectFlowSettings | None:
        if marketplace != AMAZON:
            return None
        return RedirectFlowSettings(
            default_site=self.amazon_default_marketplace,
            consent_origin=self.seller_central_url,
            draft=self.amazon_app_draft,
            redirect_uri=self.amazon_redirect_uri,
            app_source=self.amazon_app_source,
            token_endpoint=self.lwa_endpoint,
            token_cacert=self.lwa_cacert,
        )

    def __post_init__(self) -> None:
        DKIM_KEYS.configure(self.amazon_dkim_keys)  # the relay's key source
        # msgspec turns this into a SettingsError naming the variable (settings.load_part).
        if self.amazon_use_mock and self.is_production:
            raise ValueError(
                f"{self.MAIL_RELAY_DEMO_ENV}=true is refused when KEYBUZZ_ENV={self.keybuzz_env}"
            )
