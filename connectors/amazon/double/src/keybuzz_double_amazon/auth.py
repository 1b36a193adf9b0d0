"""Who is calling an SP-API operation: claims of the tokens the sandbox issues."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from .errors import unauthorized
from .signing import ACCESS_PREFIX, RDT_PREFIX, Signer

EXPIRED = "The access token you provided has expired."
INVALID = "The access token you provided is revoked, malformed or invalid."


class AccessClaims(msgspec.Struct, kw_only=True):
    cid: str  # LWA client id
    exp: float  # real epoch seconds
    sp: str | None = None  # selling partner; None for grantless (client_credentials) tokens
    scope: str | None = None
    pad: str = ""  # random filler: Amazon-sized tokens


class RefreshClaims(msgspec.Struct, kw_only=True):
    cid: str
    sp: str
    jti: str
    iat: float
    pad: str = ""


class RdtResource(msgspec.Struct, kw_only=True):
    method: str
    path: str
    dataElements: list[str] = msgspec.field(default_factory=list)  # noqa: N815 - Amazon's field name

    def covers(self, method: str, path: str) -> bool:
        # "{orderId}"-style placeholders in an RDT path match any single segment.
        pattern = "".join(
            "[^/]+" if re.fullmatch(r"\{\w+\}", part) else re.escape(part)
            for part in re.split(r"(\{\w+\})", self.path)
        )
        return self.method == method and re.fullmatch(pattern, path) is not None


class RdtClaims(msgspec.Struct, kw_only=True):
    cid: str
    sp: str
    exp: float
    res: list[RdtResource]


C = TypeVar("C", AccessClaims, RdtClaims)


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    seller_id: str | None
    scope: str | None = None
    rdt: RdtClaims | None = None

    def bucket_owner(self) -> str:
        return self.seller_id or f"grantless:{self.client_id}"

    def rdt_resource(self, method: str, path: str) -> RdtResource | None:
        if self.rdt is None:
            return None
        return next((r for r in self.rdt.res if r.covers(method, path)), None)


def authenticate(
    signer: Signer, token: str | None, now: float, method: str, path: str
) -> Principal:
    if not token:
        raise unauthorized()
    if not token.startswith(RDT_PREFIX):
        claims = _opened(signer, ACCESS_PREFIX, token, AccessClaims, now)
        return Principal(client_id=claims.cid, seller_id=claims.sp, scope=claims.scope)
    rdt = _opened(signer, RDT_PREFIX, token, RdtClaims, now)
    principal = Principal(client_id=rdt.cid, seller_id=rdt.sp, rdt=rdt)
    # An RDT only opens the restricted resources it was issued for.
    if principal.rdt_resource(method, path) is None:
        raise unauthorized()
    return principal


def _opened(signer: Signer, prefix: str, token: str, kind: type[C], now: float) -> C:
    """The token's claims: refused when it was not issued here, or has expired."""
    claims = signer.open(prefix, token, kind)
    if claims is None:
        raise unauthorized(INVALID)
    if claims.exp <= now:
        raise unauthorized(EXPIRED)
    return claims
