"""Who is calling an SP-API operation: claims of the tokens the sandbox issues."""

from __future__ import annotations

import msgspec
from keybuzz_sandbox.double_kit.sealed import Signer

from .errors import unauthorized

EXPIRED = "The access token you provided has expired."
INVALID = "The access token you provided is revoked, malformed or invalid."
ACCESS_PREFIX = "Atza|"
REFRESH_PREFIX = "Atzr|"


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


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    seller_id: str | None
    scope: str | None = None

    def bucket_owner(self) -> str:
        return self.seller_id or f"grantless:{self.client_id}"


def authenticate(signer: Signer, token: str | None, now: float) -> Principal:
    """The caller of an access token issued here (a seller's or grantless), unexpired."""
    if not token:
        raise unauthorized()
    claims = signer.open(ACCESS_PREFIX, token, AccessClaims)
    if claims is None:
        raise unauthorized(INVALID)
    if claims.exp <= now:
        raise unauthorized(EXPIRED)
    return Principal(client_id=claims.cid, seller_id=claims.sp, scope=claims.scope)
