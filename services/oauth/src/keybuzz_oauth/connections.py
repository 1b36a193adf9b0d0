"""Marketplace connection: statuses and what the status endpoint reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    NOT_CONNECTED = "NOT_CONNECTED"  # no row: never started
    PENDING = "PENDING"  # consent started, callback not seen yet
    CONNECTED = "CONNECTED"
    REAUTH_REQUIRED = "REAUTH_REQUIRED"  # LWA refused the refresh token (invalid_grant)
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"  # last attempt failed, or credentials vanished from Vault


@dataclass(frozen=True)
class Connection:
    id: str
    tenant_id: str
    marketplace_type: str
    status: Status
    seller_id: str | None
    marketplace_ids: list[str]
    region: str | None
    vault_path: str | None
    connected_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Connected:
    """What the callback learnt, to be recorded as a CONNECTED connection."""

    tenant_id: str
    user_id: str
    seller_id: str
    marketplace_id: str
    region: str
    vault_path: str
