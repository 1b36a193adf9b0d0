"""Settings: production refuses the development defaults that broke seed 003."""

import pytest
from keybuzz_connector_amazon import AmazonSettings
from keybuzz_oauth.settings import OauthSettings
from keybuzz_shared.settings import SettingsError, load_settings

PRODUCTION = {
    "KEYBUZZ_ENV": "production",
    "VAULT_ADDR": "https://vault.internal:8200",
    "VAULT_TOKEN": "s.production-token-value-xxxxxxxx",
    "JWT_SECRET": "a-real-secret-of-at-least-32-bytes-xxxx",
    "INTERNAL_API_KEY": "a-real-internal-key-of-32-bytes-xxxx",
    "FRONTEND_URL": "https://app.keybuzz.io/settings/amazon",
    "NATS_URL": "tls://nats.internal:4222",
    "NATS_USER": "oauth",
    "NATS_PASSWORD": "a-real-nats-password-of-32-bytes-xxxx",
    "DATABASE_URL": "postgresql://svc:a-real-database-password@db.internal/keybuzz_backend",
}


@pytest.mark.parametrize("missing", ["VAULT_ADDR", "VAULT_TOKEN", "FRONTEND_URL"])
def test_production_requires_vault_and_frontend(missing):
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        load_settings(OauthSettings, environ)


def test_production_defaults_are_amazons():
    settings = load_settings(OauthSettings, PRODUCTION)
    amazon = settings.of(AmazonSettings)
    assert amazon.lwa_endpoint == "https://api.amazon.com/auth/o2/token"
    assert amazon.seller_central_url is None and settings.state_ttl_seconds == 900


def test_each_redirect_flow_lands_on_its_marketplaces_page():
    settings = load_settings(OauthSettings, PRODUCTION | {"FRONTEND_URL": "https://app.test/c/"})
    assert settings.landing_page("EBAY") == "https://app.test/c/ebay"
    assert settings.landing_page("AMAZON") == "https://app.test/c/amazon"
    tagged = load_settings(OauthSettings, {"FRONTEND_URL": "https://app.test/c?from=oauth"})
    assert tagged.landing_page("EBAY") == "https://app.test/c/ebay?from=oauth"
