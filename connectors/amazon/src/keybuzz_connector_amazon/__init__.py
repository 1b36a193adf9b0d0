"""Amazon access for every service: marketplaces, Vault credentials, LWA, access tokens;
``connectors()`` is the entry point the registry loads (group ``keybuzz.connectors``)."""

from functools import cache

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_amazon.connector import AmazonConnector
from keybuzz_connector_amazon.credentials import (
    AppCredentials,
    TenantCredentials,
    check_tenant_credentials,
    delete_tenant_credentials,
    load_tenant_credentials,
    store_tenant_credentials,
)
from keybuzz_connector_amazon.errors import (
    AmazonAuthError,
    AppCredentialsMissing,
    CredentialsMissing,
    InvalidGrant,
    LwaError,
    LwaUnavailable,
    ReauthRequired,
)
from keybuzz_connector_amazon.lwa import LwaClient, TokenGrant
from keybuzz_connector_amazon.marketplaces import (
    MARKETPLACES,
    REGIONS,
    Marketplace,
    Region,
    UnknownMarketplace,
    marketplace,
    region,
)
from keybuzz_connector_amazon.notifications import (
    Destination,
    GrantlessTokens,
    NotificationsClient,
    Subscription,
)
from keybuzz_connector_amazon.settings import AmazonSettings
from keybuzz_connector_amazon.spapi import (
    Order,
    OrderItem,
    RateLimit,
    SearchOrdersPage,
    SearchOrdersQuery,
    SpApiAccessDenied,
    SpApiClient,
    SpApiError,
    SpApiInvalidInput,
    SpApiNotFound,
    SpApiUnavailable,
)
from keybuzz_connector_amazon.tokens import (
    AccessToken,
    AccessTokens,
    ReauthReporter,
    TokenService,
    outbox_reauth_reporter,
    token_service_for,
)


# The registry calls this again while services run: the same objects each time.
@cache
def connectors() -> tuple[Connector, ...]:
    return (AmazonConnector(),)


__all__ = [
    "connectors",
    "check_tenant_credentials",
    "delete_tenant_credentials",
    "MARKETPLACES",
    "REGIONS",
    "AccessToken",
    "AccessTokens",
    "AmazonAuthError",
    "AmazonSettings",
    "AppCredentials",
    "AppCredentialsMissing",
    "CredentialsMissing",
    "Destination",
    "GrantlessTokens",
    "InvalidGrant",
    "LwaClient",
    "LwaError",
    "LwaUnavailable",
    "NotificationsClient",
    "Marketplace",
    "Order",
    "OrderItem",
    "RateLimit",
    "ReauthReporter",
    "ReauthRequired",
    "Region",
    "SearchOrdersPage",
    "SearchOrdersQuery",
    "SpApiAccessDenied",
    "SpApiClient",
    "SpApiError",
    "SpApiInvalidInput",
    "SpApiNotFound",
    "SpApiUnavailable",
    "Subscription",
    "TenantCredentials",
    "TokenGrant",
    "TokenService",
    "UnknownMarketplace",
    "load_tenant_credentials",
    "marketplace",
    "outbox_reauth_reporter",
    "region",
    "store_tenant_credentials",
    "token_service_for",
]
