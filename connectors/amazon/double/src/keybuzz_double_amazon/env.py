"""What points a service at the double, and the double's own settings (``SANDBOX_<FIELD>``)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from keybuzz_sandbox.dkim_signing import published_records
from keybuzz_sandbox.double_kit.ports import StackPort
from keybuzz_sandbox.faults import Fraction

from .notices import SELECTOR, SIGNING_DOMAINS

# Always registered: the development stack's OAuth callback; SANDBOX_REDIRECT_URIS adds more.
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8001/api/v1/marketplaces/amazon/oauth/callback",
    "http://localhost:8001/api/v1/marketplaces/amazon/oauth/callback",
)

AmazonSeconds = Annotated[float, msgspec.Meta(ge=0)]
# The SP-API roles an application may be given (SANDBOX_APP_ROLES names some of them).
KnownRole = Literal[
    "direct-to-consumer-shipping",
    "tax-invoicing",
    "tax-remittance",
    "amazon-fulfillment",
    "buyer-communication",
    "buyer-solicitation",
    "finance-and-accounting",
    "inventory-and-order-tracking",
    "pricing",
    "product-listing",
    "selling-partner-insights",
]


# The LWA token endpoint (POST /auth/o2/token) as an operation name. Opt-in: faults
# apply to it only when `operations` names it, so "all operations" stays SP-API's.
LWA_OPERATION = "lwaToken"


class FaultSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Faults injected from the start on SP-API operations and, when named, LWA (PUT
    /_sandbox/faults changes them while it runs): the fault injector's, the same names."""

    error_rate: Fraction = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    latency_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    malformed_rate: Fraction = 0.0
    malformed_kind: Literal["invalid_json", "schema"] = "invalid_json"
    operations: tuple[str, ...] = ()


class AmazonDoubleSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The application registered with the double, its mail's ways, its lags: each field's
    variable, ``SANDBOX_<FIELD>`` (or its ``name``), in docs/SANDBOX.md, "Settings"."""

    signing_secret: str = msgspec.field(
        default="keybuzz-sandbox-signing-secret-dev-only", name="secret"
    )
    client_id: str = "amzn1.application-oa2-client.keybuzz-sandbox"
    client_secret: str = "keybuzz-sandbox-secret"
    application_id: str = "amzn1.sp.solution.keybuzz-sandbox"
    app_draft: bool = True
    extra_redirect_uris: tuple[str, ...] = msgspec.field(default=(), name="redirect_uris")
    smtp_host: str = "127.0.0.1"
    smtp_port: StackPort = 2525  # the stack's MX, moved by KEYBUZZ_PORT_OFFSET
    reply_smtp_host: str = "127.0.0.1"
    reply_smtp_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 2526  # 0: any free port
    bench_orders: Annotated[int, msgspec.Meta(gt=0)] = 10_000
    faults: FaultSettings = msgspec.field(default_factory=FaultSettings, name="fault")
    # What KeyBuzz's helpdesk application is approved for: the restricted data it sees.
    app_roles: tuple[KnownRole, ...] = (
        "inventory-and-order-tracking",
        "buyer-communication",
        "direct-to-consumer-shipping",
    )
    listing_lag_seconds: AmazonSeconds = 120.0
    report_lag_seconds: AmazonSeconds = 600.0
    report_gzip_min_bytes: Annotated[int, msgspec.Meta(ge=0)] = 4096
    report_gzip_declaration: Literal["declare", "omit"] = "declare"
    sqs_endpoint: str | None = None  # None: notifications held until one is set


def service_env(sandbox_url: str) -> dict[str, str]:
    """The Amazon connector's settings for a sandbox at ``sandbox_url`` (and the double's
    DKIM key, its record under each domain it signs for, instead of DNS)."""
    return {
        "AMAZON_DKIM_KEYS": published_records(SELECTOR, SIGNING_DOMAINS),
        "LWA_ENDPOINT": f"{sandbox_url}/auth/o2/token",
        "SPAPI_ENDPOINT": sandbox_url,
        "SELLER_CENTRAL_URL": sandbox_url,
    }
