"""Login with Amazon token endpoint, POST /auth/o2/token (form-encoded), and who is calling
an SP-API operation: claims of the tokens it issues."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import msgspec
from keybuzz_sandbox.double_kit.oauth import (
    FORM_TYPES,
    OAuthError,
    basic_credentials,
    read_form,
    server_fault,
    token_answer,
)
from keybuzz_sandbox.double_kit.sealed import Signer
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from .double import AmazonDouble
from .env import LWA_OPERATION
from .errors import unauthorized

ACCESS_TOKEN_LIFETIME = 3600.0  # Amazon seconds
# Amazon's Atza|/Atzr| tokens are several hundred characters long; padding the
# claims keeps ours in that range, so column sizes and headers are tested for real.
TOKEN_PADDING_BYTES = 96
GRANTLESS_SCOPES = frozenset(
    {"sellingpartnerapi::notifications", "sellingpartnerapi::client_credential:rotation"}
)

ACCESS_PREFIX = "Atza|"
REFRESH_PREFIX = "Atzr|"


class AccessClaims(msgspec.Struct, kw_only=True, rename={"client_id": "cid", "seller_id": "sp"}):
    """An access token's claims: who calls an SP-API operation."""

    client_id: str  # LWA client id
    exp: float  # real epoch seconds
    seller_id: str | None = None  # None for grantless (client_credentials) tokens
    scope: str | None = None
    pad: str = ""  # random filler: Amazon-sized tokens


class RefreshClaims(msgspec.Struct, kw_only=True):
    cid: str
    sp: str
    jti: str
    iat: float
    pad: str = ""


def authenticate(signer: Signer, token: str | None, now: float) -> AccessClaims:
    """The caller of an access token issued here (a seller's or grantless), unexpired."""
    if not token:
        raise unauthorized()
    claims = signer.open(ACCESS_PREFIX, token, AccessClaims)
    if claims is None:
        raise unauthorized("The access token you provided is revoked, malformed or invalid.")
    if claims.exp <= now:
        raise unauthorized("The access token you provided has expired.")
    return claims


class TokenResponse(msgspec.Struct, kw_only=True, omit_defaults=True):
    access_token: str
    token_type: str  # no default: omit_defaults would drop it
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None


def _missing(name: str) -> OAuthError:
    return OAuthError("invalid_request", f"The request is missing a required parameter : {name}")


def _required(form: dict[str, str], name: str) -> str:
    if not form.get(name):
        raise _missing(name)
    return form[name]


def _invalid_grant(name: str) -> OAuthError:
    return OAuthError("invalid_grant", f"The request has an invalid grant parameter : {name}")


class TokenEndpoint:
    def __init__(self, sb: AmazonDouble) -> None:
        self.sb = sb

    def access_token(
        self, client_id: str, seller_id: str | None, scope: str | None = None
    ) -> TokenResponse:
        lifetime = self.sb.clock.real_duration(ACCESS_TOKEN_LIFETIME)
        claims = AccessClaims(
            client_id=client_id,
            seller_id=seller_id,
            scope=scope,
            exp=self.sb.clock.now() + lifetime,
            pad=secrets.token_urlsafe(TOKEN_PADDING_BYTES),
        )
        # expires_in is what the token really lives, so clients' caching works unchanged.
        return TokenResponse(
            access_token=self.sb.signer.seal(ACCESS_PREFIX, claims),
            token_type="bearer",
            expires_in=max(1, round(lifetime)),
            scope=scope,
        )

    def authorization_code(self, form: dict[str, str], client_id: str) -> TokenResponse:
        code = _required(form, "code")
        # LWA wants the redirect_uri the consent used; a request without it is malformed.
        redirect_uri = _required(form, "redirect_uri")
        grant = self.sb.auth_codes.redeem(code)
        if grant is None:
            raise _invalid_grant("code")
        if redirect_uri != grant.redirect_uri:
            raise _invalid_grant("redirect_uri")
        refresh = RefreshClaims(
            cid=client_id,
            sp=grant.seller_id,
            jti=str(uuid.uuid4()),
            iat=self.sb.clock.now(),
            pad=secrets.token_urlsafe(TOKEN_PADDING_BYTES),
        )
        response = self.access_token(client_id, grant.seller_id)
        return msgspec.structs.replace(
            response, refresh_token=self.sb.signer.seal(REFRESH_PREFIX, refresh)
        )

    def refresh_token(self, form: dict[str, str], client_id: str) -> TokenResponse:
        token = _required(form, "refresh_token")
        claims = self.sb.signer.open(REFRESH_PREFIX, token, RefreshClaims)
        if (
            claims is None
            or claims.cid != client_id
            or self.sb.is_revoked(claims.jti, claims.sp, claims.iat)
        ):
            raise _invalid_grant("refresh_token")
        return msgspec.structs.replace(self.access_token(client_id, claims.sp), refresh_token=token)

    def client_credentials(self, form: dict[str, str], client_id: str) -> TokenResponse:
        scope = _required(form, "scope")
        if scope not in GRANTLESS_SCOPES:
            raise OAuthError("invalid_scope", "The request has an invalid parameter : scope")
        return self.access_token(client_id, None, scope)

    def exchange(self, form: dict[str, str], authorization: str | None) -> TokenResponse:
        grants = {
            "authorization_code": self.authorization_code,
            "refresh_token": self.refresh_token,
            "client_credentials": self.client_credentials,
        }
        grant_type = _required(form, "grant_type")
        if grant_type not in grants:
            raise OAuthError(
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server",
            )
        client_id, secret = basic_credentials(authorization) or (
            form.get("client_id"),
            form.get("client_secret"),
        )
        if not client_id:
            raise _missing("client_id")
        if (client_id, secret) != (self.sb.settings.client_id, self.sb.settings.client_secret):
            raise OAuthError("invalid_client", "Client authentication failed", status=401)
        return grants[grant_type](form, client_id)


async def _answer(endpoint: TokenEndpoint, request: Request[Any, Any, Any]) -> tuple[Any, int]:
    form = await read_form(request)
    if form is None:
        return {"error": "invalid_request", "error_description": FORM_TYPES}, 400
    try:
        return endpoint.exchange(form, request.headers.get("authorization")), 200
    except OAuthError as exc:
        return exc.body(), exc.status


def token_route(sb: AmazonDouble) -> HTTPRouteHandler:
    endpoint = TokenEndpoint(sb)

    @post("/auth/o2/token", include_in_schema=False)
    async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
        decision = await sb.faults.delayed(LWA_OPERATION)
        if decision.error_status:
            # An internal error can strike after LWA redeemed the code (the client then gets
            # invalid_grant on retry); throttling and unavailability reject the call up front.
            if decision.error_status == 500:
                await _answer(endpoint, request)  # processed, then the answer is lost
            # Amazon documents no body for LWA's failures: RFC 6749's words stand in.
            fault = server_fault(decision.error_status)
            return token_answer(fault.body(), fault.status)
        payload, status = await _answer(endpoint, request)
        return token_answer(payload, status, decision.malformed_kind, sb.faults.config.huge_bytes)

    return token
