"""OAuth ``state`` and the browser nonce: what authenticates the callback.

The state is random, single use and bound to tenant and user; it travels in
the consent URL. The browser nonce lives in an HttpOnly cookie set by
``/oauth/start``: a callback counts only when it comes back to the browser
that started the flow, so an ``authUrl`` handed to someone else cannot link
their marketplace account to our tenant (docs/OAUTH.md §9).

Only SHA-256 digests of both are stored, so neither a database dump nor a log
of our own rows can be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

STATE_BYTES = 32
NONCE_BYTES = 32
# token_urlsafe(32): 43 characters; anything else in the cookie is not ours.
_NONCE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class NewState:
    value: str = field(repr=False)
    digest: str


@dataclass(frozen=True)
class NewStateRow:
    """What a state is bound to when ``/oauth/start`` issues it (digests only)."""

    digest: str
    tenant_id: str
    user_id: str
    marketplace_type: str  # the connector's marketplace
    marketplace_code: str  # the site consented on
    redirect_uri: str
    browser_hash: str = field(repr=False)
    takeover: bool


@dataclass(frozen=True)
class ConsumedState:
    """What a valid state was bound to when it was issued."""

    tenant_id: str
    user_id: str
    marketplace_type: str
    marketplace_code: str
    redirect_uri: str
    browser_hash: str | None = field(default=None, repr=False)
    takeover: bool = False


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


def browser_nonce(presented: str | None) -> str:
    """The nonce to bind a new state to: the browser's own if it already has one.

    Reusing it keeps two flows started from two tabs of one browser both valid.
    """
    if presented and _NONCE_SHAPE.match(presented):
        return presented
    return secrets.token_urlsafe(NONCE_BYTES)


def browser_rejection(bound: ConsumedState, presented: str | None) -> Rejection | None:
    """None when the callback came back to the browser that started the flow."""
    if not presented:
        return Rejection(
            "browser_not_bound",
            "this authorization was not started in this browser (or its cookies are blocked); "
            "start the connection again from KeyBuzz",
        )
    expected = bound.browser_hash or ""
    if not hmac.compare_digest(digest(presented), expected):
        return Rejection(
            "browser_mismatch",
            "this authorization was started in another browser; start the connection again",
        )
    return None


def rejection(used_at: datetime | None, found: bool) -> Rejection:
    """Why a state could not be consumed, told apart after the atomic attempt failed."""
    if not found:
        return Rejection("invalid_state", "unknown authorization state; start the connection again")
    if used_at is not None:
        return Rejection("state_already_used", "this authorization link was already used")
    return Rejection("state_expired", "the authorization took longer than allowed; start again")
