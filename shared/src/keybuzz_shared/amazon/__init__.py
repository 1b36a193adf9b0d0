"""Amazon access for every service: marketplaces, Vault credentials, LWA, access tokens."""

from keybuzz_shared.amazon.credentials import (
    AppCredentials,
    TenantCredentials,
    load_app_credentials,
    load_tenant_credentials,
    store_tenant_credentials,
)
from keybuzz_shared.amazon.errors import (
    AmazonAuthError,
    AppCredentialsMissing,
    CredentialsMissing,
    InvalidGrant,
    LwaError,
    LwaUnavailable,
    ReauthRequired,
)
from keybuzz_shared.amazon.lwa import LwaClient, TokenGrant
from keybuzz_shared.amazon.marketplaces import (
    MARKETPLACES,
    REGIONS,
    Marketplace,
    Region,
    UnknownMarketplace,
    marketplace,
    region,
)
from keybuzz_shared.amazon.settings import AmazonSettings
from keybuzz_shared.amazon.tokens import (
    AccessToken,
    ReauthReporter,
    TokenService,
    outbox_reauth_reporter,
    token_service_for,
)

__all__ = [
    "MARKETPLACES",
    "REGIONS",
    "AccessToken",
    "AmazonAuthError",
    "AmazonSettings",
    "AppCredentials",
    "AppCredentialsMissing",
    "CredentialsMissing",
    "InvalidGrant",
    "LwaClient",
    "LwaError",
    "LwaUnavailable",
    "Marketplace",
    "ReauthReporter",
    "ReauthRequired",
    "Region",
    "TenantCredentials",
    "TokenGrant",
    "TokenService",
    "UnknownMarketplace",
    "load_app_credentials",
    "load_tenant_credentials",
    "marketplace",
    "outbox_reauth_reporter",
    "region",
    "store_tenant_credentials",
    "token_service_for",
]
