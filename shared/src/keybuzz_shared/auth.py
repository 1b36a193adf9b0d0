"""Authentication for the HTTP endpoints (docs/CONTRACTS.md, "HTTP endpoints").

Tenant endpoints: ``Authorization: Bearer <JWT>`` (HS256, claims ``sub`` and a
``tenants`` list or ``role: superadmin``) plus ``X-Tenant-Id``; a user only
reaches the tenants their token lists. A token must carry ``exp``, may not be
valid for longer than ``JWT_MAX_LIFETIME_SECONDS``, and must name
``JWT_ISSUER`` as ``iss`` when that is set. Claims of the wrong type are
refused, never read as "no tenants". Internal endpoints: ``X-Internal-Key``,
waived by ``KEYBUZZ_DEV_MODE=true`` (refused in production at start-up).
See docs/SECURITY.md, "Authentication".
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import jwt
import msgspec
from cachetools import TLRUCache
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from keybuzz_shared.http import BadRequest
from keybuzz_shared.ids import is_tenant_id
from keybuzz_shared.settings import CommonSettings
from keybuzz_shared.tenancy import SUPERADMIN, Principal, TenantContext

DEFAULT_MAX_LIFETIME_SECONDS = 24 * 3600


class TokenPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """What a token must satisfy beyond its HS256 signature."""

    secret: str
    issuer: str | None = None
    max_lifetime_seconds: int = DEFAULT_MAX_LIFETIME_SECONDS

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> TokenPolicy:
        return cls(
            secret=settings.jwt_secret,
            issuer=settings.jwt_issuer,
            max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
        )

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"TokenPolicy(issuer={self.issuer!r}, max={self.max_lifetime_seconds})"


class _Verified(msgspec.Struct, frozen=True):
    principal: Principal
    expires_at: float  # the token's exp


# Tokens already verified, each until its own ``exp``: a frontend sends the same token
# with every request, and verifying it again (HMAC, claims) was a tenth of the CPU of
# an order list at 200 requests/s (docs/BENCHMARKS.md). Refused tokens are not kept.
_verified: TLRUCache[tuple[str, TokenPolicy], _Verified] = TLRUCache(
    maxsize=4096, ttu=lambda _key, value, _now: value.expires_at, timer=time.time
)


def decode_token(token: str, policy: TokenPolicy) -> Principal:
    """The caller, or 401: bad signature, no ``exp``, expired, too long-lived, wrong issuer."""
    known = _verified.get((token, policy))
    if known is not None:
        return known.principal
    principal, expires_at = _verify(token, policy)
    _verified[(token, policy)] = _Verified(principal, expires_at)
    return principal


def _verify(token: str, policy: TokenPolicy) -> tuple[Principal, float]:
    required = ["sub", "exp", *(["iss"] if policy.issuer else [])]
    try:
        claims = jwt.decode(
            token,
            policy.secret,
            algorithms=["HS256"],
            issuer=policy.issuer,
            options={"require": required},
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthorizedException("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise NotAuthorizedException(f"invalid token: {exc}") from None
    _refuse_long_lived(claims, policy.max_lifetime_seconds)
    principal = Principal(user_id=claims["sub"], tenants=_tenants(claims), role=_role(claims))
    return principal, float(claims["exp"])


def _refuse_long_lived(claims: dict[str, Any], max_lifetime: int) -> None:
    """A leaked token is good until ``exp``: cap how far that can be from its issue."""
    # exp is present: it is required above. Without iat, the lifetime counts from now.
    issued = claims.get("iat", time.time())
    if claims["exp"] - issued > max_lifetime:
        raise NotAuthorizedException(
            f"invalid token: valid for longer than the maximum of {max_lifetime} seconds"
        )


def _tenants(claims: dict[str, Any]) -> tuple[str, ...]:
    tenants = claims.get("tenants", [])
    if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
        raise NotAuthorizedException("invalid token: 'tenants' must be a list of tenant ids")
    return tuple(tenants)


def _role(claims: dict[str, Any]) -> str | None:
    role = claims.get("role")
    if role is not None and not isinstance(role, str):
        raise NotAuthorizedException("invalid token: 'role' must be a string")
    return role


def issue_token(
    secret: str,
    user_id: str,
    tenants: list[str] | None = None,
    role: str | None = None,
    ttl_seconds: int = 3600,
    issuer: str | None = None,
) -> str:
    """A token as the product app issues them (development tools and tests)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if tenants is not None:
        claims["tenants"] = tenants
    if role:
        claims["role"] = role
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer_principal(
    connection: ASGIConnection[Any, Any, Any, Any], policy: TokenPolicy
) -> Principal:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("missing bearer token (Authorization: Bearer <JWT>)")
    return decode_token(token.strip(), policy)


def tenant_context(
    connection: ASGIConnection[Any, Any, Any, Any], settings: CommonSettings
) -> TenantContext:
    """The dependency every tenant endpoint uses."""
    principal = bearer_principal(connection, TokenPolicy.from_settings(settings))
    tenant_id = connection.headers.get("x-tenant-id", "").strip()
    if not tenant_id:
        raise BadRequest("missing X-Tenant-Id header")
    if not is_tenant_id(tenant_id):
        raise BadRequest("X-Tenant-Id is not a valid tenant id")
    if not principal.may_access(tenant_id):
        raise PermissionDeniedException(f"user may not access tenant {tenant_id}")
    return TenantContext(principal=principal, tenant_id=tenant_id)


def require_internal_key(
    connection: ASGIConnection[Any, Any, Any, Any], settings: CommonSettings
) -> None:
    if settings.keybuzz_dev_mode and not settings.is_production:
        return
    given = connection.headers.get("x-internal-key", "")
    if not given or not hmac.compare_digest(given.encode(), settings.internal_api_key.encode()):
        raise NotAuthorizedException("missing or wrong X-Internal-Key")


def main() -> None:
    """``python -m keybuzz_shared.auth --tenant ecomlg-001``: a development token on stdout."""
    import argparse
    import os

    from keybuzz_shared.settings import DEV_JWT_SECRET

    parser = argparse.ArgumentParser(description="Issue a KeyBuzz JWT (HS256) for development")
    parser.add_argument("--tenant", action="append", default=[], help="tenant id (repeatable)")
    parser.add_argument("--user", default="dev-user", help="the sub claim")
    parser.add_argument("--superadmin", action="store_true", help="role: superadmin")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    parser.add_argument("--issuer", default=os.environ.get("JWT_ISSUER"), help="the iss claim")
    args = parser.parse_args()
    secret = os.environ.get("JWT_SECRET") or DEV_JWT_SECRET
    role = SUPERADMIN if args.superadmin else None
    print(issue_token(secret, args.user, args.tenant, role, args.ttl, args.issuer))


if __name__ == "__main__":
    main()
