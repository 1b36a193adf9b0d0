"""Octopia's seller API v2 for one Cdiscount shop, declared for the kit's requester.

The shop's API client (a client id and secret the seller creates in Octopia's portal) is
traded for a token at Octopia's OpenID Connect endpoint (client credentials); every call
carries it (``Authorization: Bearer``) with the shop's ``SellerId``, and a call refused
for its token (401) gets a new one and is sent once more; a 403 is the client without
access to this seller. Listings page by their ``Link`` header. Files are served by
Octopia with the shop's token. Retries, deadlines, sends never repeated, the token's
cache and the seam's errors are the kit's (keybuzz_shared.connectors.kit); none quotes
the secret or the token. Details: docs/CDISCOUNT.md.
"""

from __future__ import annotations

import logging
from typing import Unpack

import httpx
import msgspec
from keybuzz_shared.connectors.kit import (
    ApiSpec,
    CallErrors,
    ClientCredentials,
    Refusals,
    Requester,
    RequesterOptions,
)

API_URL = "https://api.octopia-io.net/seller/v2/"
AUTH_URL = "https://auth.octopia-io.net/auth/realms/maas/protocol/openid-connect/token"

# Any answer is refused past this size, unread. The largest we ask for is a page of 100
# discussions with their messages (bodies of up to 5,000 characters): some MB.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# A token is renewed this long before Octopia's ``expires_in`` runs out (at most half of
# its life), so that no call leaves with a token about to lapse.
TOKEN_MARGIN_SECONDS = 120.0

ERRORS = CallErrors.labelled("Octopia")
SPEC = ApiSpec(
    "Octopia",
    logging.getLogger(__name__),
    ERRORS,
    # 403: the token's client has no access to this seller id.
    Refusals(
        credentials=frozenset({401, 403}),
        reason_keys=("detail", "error_description", "title", "message", "error"),
    ),
    max_response_bytes=MAX_RESPONSE_BYTES,
    authorized_files=True,
)


class OctopiaCredentials(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    client_secret: str
    seller_id: str

    def __repr__(self) -> str:
        return (
            f"OctopiaCredentials(client_id={self.client_id!r}, client_secret=[REDACTED], "
            f"seller_id={self.seller_id!r})"
        )


class OctopiaClient(Requester):
    """One shop's calls (``options``: the requester's; ``files``, where its messages' files
    may be fetched from)."""

    def __init__(
        self,
        credentials: OctopiaCredentials,
        http: httpx.AsyncClient,
        api_url: str = API_URL,
        auth_url: str = AUTH_URL,
        *,
        token_margin: float = TOKEN_MARGIN_SECONDS,
        **options: Unpack[RequesterOptions],
    ) -> None:
        self.tokens = ClientCredentials(
            auth_url,
            credentials.client_id,
            credentials.client_secret,
            headers={"SellerId": credentials.seller_id},
            margin=token_margin,
        )
        shop = {"seller_id": credentials.seller_id}
        super().__init__(SPEC, self.tokens, http, api_url, shop=shop, **options)
        self.credentials = credentials

    @property
    def seller_id(self) -> str:
        return self.credentials.seller_id

    @property
    def api_url(self) -> str:
        """The API's address, ending with "/": relative paths and files are under it."""
        return self.base_url

    @property
    def has_token(self) -> bool:
        return self.tokens.has_token

    async def authenticate(self) -> None:
        """Asks for a new token now (CredentialsRefused when the client id or secret
        is refused)."""
        await self.tokens.authenticate(self)
