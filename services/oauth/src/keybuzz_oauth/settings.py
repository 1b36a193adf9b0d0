"""oauth settings (docs/CONTRACTS.md, "Configuration")."""

from typing import ClassVar

from keybuzz_shared.connectors.amazon.settings import AmazonSettings

STATE_TTL_SECONDS = 15 * 60
FNAC_API_URL = "https://vendeur.fnac.com/api.php/"


class OauthSettings(AmazonSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {
        "http_port": "OAUTH_PORT",
        "state_ttl_seconds": "OAUTH_STATE_TTL_SECONDS",
        "redirect_uri": "OAUTH_REDIRECT_URI",
        "app_draft": "AMAZON_APP_DRAFT",
        "default_marketplace": "AMAZON_DEFAULT_MARKETPLACE",
    }
    # A production seller must not be sent back to a developer's localhost.
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = AmazonSettings.DEV_ONLY_DEFAULTS | {
        "frontend_url"
    }

    http_port: int = 8001
    # Where the browser lands after the callback (?status=connected|error&reason=…).
    frontend_url: str = "http://localhost:3000/settings/channels/amazon"
    # Replaces the marketplace's Seller Central origin (the sandbox in development).
    seller_central_url: str | None = None
    # Unset: the app credential's redirect_uri (what is registered with Amazon).
    redirect_uri: str | None = None
    # Unset: the app credential's `draft` flag decides whether version=beta is sent.
    app_draft: bool | None = None
    state_ttl_seconds: float = STATE_TTL_SECONDS
    default_marketplace: str = "FR"
    # Fnac's seller API, which serves Darty's shops too (the sandbox's /fnac/api.php/ in
    # development); connecting a shop checks its credentials there.
    fnac_api_url: str = FNAC_API_URL
