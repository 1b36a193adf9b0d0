"""A requester whose calls carry an OAuth2 client-credentials token (``ClientCredentials``):
the token asked for now, where a connector checks the client's id and secret before any
call (a credential check, a session's ``verify``), and whether it holds one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Unpack

import httpx
from keybuzz_shared.connectors.kit import ApiSpec, ClientCredentials, Requester, RequesterOptions


class TokenRequester(Requester):
    """One shop's calls on ``base_url``, authorised by ``tokens``."""

    def __init__(
        self,
        spec: ApiSpec,
        tokens: ClientCredentials,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        shop: Mapping[str, str] | None = None,
        **options: Unpack[RequesterOptions],
    ) -> None:
        super().__init__(spec, tokens, http, base_url, shop=shop, **options)
        self.tokens = tokens

    @property
    def has_token(self) -> bool:
        return self.tokens.has_token

    async def authenticate(self) -> None:
        """Asks for a new token now (CredentialsRefused when the client's id or secret is
        refused)."""
        await self.tokens.authenticate(self)
