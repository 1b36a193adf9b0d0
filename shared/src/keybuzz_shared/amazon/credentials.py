"""LWA app credentials and tenant (seller) credentials, as kept in Vault (DESIGN.md §5).

Secrets are excluded from ``repr`` so a stray ``log.info("%s", creds)`` cannot
print them. A missing secret or field raises a typed error naming the path and
the missing field names, never the values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from keybuzz_shared.amazon.errors import (
    AmazonAuthError,
    AppCredentialsMissing,
    CredentialsMissing,
)
from keybuzz_shared.vault import VaultClient, app_credentials_path, tenant_credentials_path

APP_FIELDS = ("client_id", "client_secret", "application_id", "redirect_uri", "region")
TENANT_FIELDS = ("refresh_token", "seller_id", "marketplace_id", "region")


@dataclass(frozen=True)
class AppCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    application_id: str
    redirect_uri: str
    region: str
    # A draft app only accepts consent with version=beta (else Amazon answers MD1000).
    draft: bool = False
    source: str = "default"


@dataclass(frozen=True)
class TenantCredentials:
    tenant_id: str
    refresh_token: str = field(repr=False)
    seller_id: str
    marketplace_id: str
    region: str
    created_at: str = ""

    @property
    def fingerprint(self) -> str:
        """Identifies the refresh token without keeping it in a second place."""
        return hashlib.sha256(self.refresh_token.encode()).hexdigest()[:16]

    def to_vault(self) -> dict[str, str]:
        return {
            "refresh_token": self.refresh_token,
            "seller_id": self.seller_id,
            "marketplace_id": self.marketplace_id,
            "region": self.region,
            "created_at": self.created_at or datetime.now(UTC).isoformat(),
        }


def _missing(data: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    return [name for name in fields if not str(data.get(name) or "").strip()]


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


async def _read_required(
    vault: VaultClient,
    path: str,
    fields: tuple[str, ...],
    missing_error: Callable[[list[str] | None], AmazonAuthError],
) -> dict[str, Any]:
    data = await vault.read(path)
    if data is None:
        raise missing_error(None)
    if missing := _missing(data, fields):
        raise missing_error(missing)
    return data


async def load_app_credentials(vault: VaultClient, app_source: str = "default") -> AppCredentials:
    path = app_credentials_path(app_source)
    data = await _read_required(
        vault, path, APP_FIELDS, lambda missing: AppCredentialsMissing(path, app_source, missing)
    )
    return AppCredentials(
        **{name: str(data[name]) for name in APP_FIELDS},
        draft=_truthy(data.get("draft", False)),
        source=app_source,
    )


async def load_tenant_credentials(vault: VaultClient, tenant_id: str) -> TenantCredentials:
    path = tenant_credentials_path(tenant_id)
    data = await _read_required(
        vault, path, TENANT_FIELDS, lambda missing: CredentialsMissing(tenant_id, path, missing)
    )
    return TenantCredentials(
        tenant_id=tenant_id,
        **{name: str(data[name]) for name in TENANT_FIELDS},
        created_at=str(data.get("created_at") or ""),
    )


async def store_tenant_credentials(vault: VaultClient, credentials: TenantCredentials) -> str:
    """Write (replace) a tenant's credentials; returns the Vault path (what the DB keeps)."""
    path = tenant_credentials_path(credentials.tenant_id)
    await vault.write(path, credentials.to_vault())
    return path
