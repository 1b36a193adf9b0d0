"""Authentication for the HTTP endpoints (DESIGN.md §4).

Tenant endpoints: ``Authorization: Bearer <JWT>`` (HS256, claims ``sub`` and a
``tenants`` list or ``role: superadmin``) plus ``X-Tenant-Id``; a user only
reaches the tenants their token lists. Internal endpoints: ``X-Internal-Key``,
waived by ``KEYBUZZ_DEV_MODE=true`` (refused in production at start-up).
"""

from __future__ import annotations

import hmac
import re
import time

import jwt
import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from keybuzz_shared.http import BadRequest
from keybuzz_shared.settings import CommonSettings

SUPERADMIN = "superadmin"
_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class Principal(msgspec.Struct, frozen=True):
    user_id: str
    tenants: tuple[str, ...] = ()
    role: str | None = None

    def may_access(self, tenant_id: str) -> bool:
        return self.role == SUPERADMIN or tenant_id in self.tenants


class TenantContext(msgspec.Struct, frozen=True):
    """Who is calling, for which tenant: what tenant endpoints receive."""

    principal: Principal
    tenant_id: str


def decode_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthorizedException("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise NotAuthorizedException(f"invalid token: {exc}") from None
    tenants = claims.get("tenants") or []
    if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
        raise NotAuthorizedException("invalid token: 'tenants' must be a list of tenant ids")
    return Principal(user_id=str(claims["sub"]), tenants=tuple(tenants), role=claims.get("role"))


def issue_token(
    secret: str,
    user_id: str,
    tenants: list[str] | None = None,
    role: str | None = None,
    ttl_seconds: int = 3600,
) -> str:
    """A token as the product app issues them (development tools and tests)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if tenants is not None:
        claims["tenants"] = tenants
    if role:
        claims["role"] = role
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer_principal(connection: ASGIConnection, secret: str) -> Principal:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("missing bearer token (Authorization: Bearer <JWT>)")
    return decode_token(token.strip(), secret)


def tenant_context(connection: ASGIConnection, settings: CommonSettings) -> TenantContext:
    """The dependency every tenant endpoint uses."""
    principal = bearer_principal(connection, settings.jwt_secret)
    tenant_id = connection.headers.get("x-tenant-id", "").strip()
    if not tenant_id:
        raise BadRequest("missing X-Tenant-Id header")
    if not _TENANT_ID.match(tenant_id):
        raise BadRequest("X-Tenant-Id is not a valid tenant id")
    if not principal.may_access(tenant_id):
        raise PermissionDeniedException(f"user may not access tenant {tenant_id}")
    return TenantContext(principal=principal, tenant_id=tenant_id)


def require_internal_key(connection: ASGIConnection, settings: CommonSettings) -> None:
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
    args = parser.parse_args()
    secret = os.environ.get("JWT_SECRET") or DEV_JWT_SECRET
    role = SUPERADMIN if args.superadmin else None
    print(issue_token(secret, args.user, args.tenant, role, args.ttl))


if __name__ == "__main__":
    main()
