"""Typed failures of the Amazon credential chain (Vault → LWA → access token).

Each names what an operator needs (tenant, Vault path, LWA error code) and
never a secret, so missing credentials are found when they fail, not weeks
later at backfill time. Those of the redirect flow are also the seam's
(``seam/redirect_flow.py``), which oauth catches without naming Amazon.
"""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    AccountCredentialsMissing,
    AppNotConfigured,
    GrantInvalid,
    GrantRefused,
    TokenEndpointUnavailable,
)
from keybuzz_shared.errors import DependencyUnavailable


class AmazonAuthError(RuntimeError):
    """Base of every failure to obtain an SP-API access token."""


def _what(missing: list[str] | None) -> str:
    return f"lack {', '.join(missing)}" if missing else "are missing"


class AppCredentialsMissing(AmazonAuthError, AppNotConfigured):
    """The LWA application's credentials are not in Vault (or lack a field)."""

    def __init__(self, path: str, app_source: str, missing: list[str] | None = None) -> None:
        super().__init__(
            f"Amazon app credentials (AMAZON_APP_SOURCE={app_source}) {_what(missing)} "
            f"in Vault at {path}"
        )
        self.path = path
        self.app_source = app_source
        self.missing = missing or []


class CredentialsMissing(AmazonAuthError, AccountCredentialsMissing):
    """A tenant's seller credentials are not in Vault (or lack a field)."""

    def __init__(self, tenant_id: str, path: str, missing: list[str] | None = None) -> None:
        super().__init__(
            f"Amazon credentials of tenant {tenant_id} {_what(missing)} in Vault at {path}; "
            "the seller must connect Amazon again"
        )
        self.tenant_id = tenant_id
        self.path = path
        self.missing = missing or []


class ReauthRequired(AmazonAuthError):
    """LWA rejected the refresh token (invalid_grant): the seller revoked us or it expired."""

    def __init__(self, tenant_id: str, seller_id: str | None, detail: str) -> None:
        super().__init__(
            f"Amazon refused the refresh token of tenant {tenant_id} (seller {seller_id}): "
            f"{detail}; the seller must authorize KeyBuzz again"
        )
        self.tenant_id = tenant_id
        self.seller_id = seller_id
        self.detail = detail


class LwaError(AmazonAuthError, GrantRefused):
    """LWA answered with an error that retrying will not fix (invalid_client, invalid_request…)."""

    def __init__(self, code: str, description: str, status: int) -> None:
        super().__init__(f"LWA refused the request ({status} {code}): {description}")
        self.code = code
        self.description = description
        self.status = status


class InvalidGrant(LwaError, GrantInvalid):
    """``invalid_grant``: the authorization code or refresh token is revoked, used or expired."""


class LwaUnavailable(AmazonAuthError, DependencyUnavailable, TokenEndpointUnavailable):
    """LWA kept failing transiently (5xx, 429, timeouts) until the retries ran out."""
