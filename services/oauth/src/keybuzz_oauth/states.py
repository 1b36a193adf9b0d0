"""OAuth ``state``: the callback's only credential (random, single use, bound to tenant and user).

Only its SHA-256 is stored, so neither a database dump nor a log of our own
rows can be replayed; the raw value exists in the consent URL and the
browser's redirect only.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

STATE_BYTES = 32


@dataclass(frozen=True)
class NewState:
    value: str = field(repr=False)
    digest: str


@dataclass(frozen=True)
class ConsumedState:
    """What a valid state was bound to when it was issued."""

    tenant_id: str
    user_id: str
    marketplace_type: str
    marketplace_code: str
    redirect_uri: str


@dataclass(frozen=True)
class Rejection:
    """Unknown (forged), expired or already used: the callback must not go on."""

    reason: str
    message: str


def new_state() -> NewState:
    value = secrets.token_urlsafe(STATE_BYTES)
    return NewState(value=value, digest=digest(value))


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def rejection(used_at: datetime | None, found: bool) -> Rejection:
    """Why a state could not be consumed, told apart after the atomic attempt failed."""
    if not found:
        return Rejection("invalid_state", "unknown authorization state; start the connection again")
    if used_at is not None:
        return Rejection("state_already_used", "this authorization link was already used")
    return Rejection("state_expired", "the authorization took longer than allowed; start again")
