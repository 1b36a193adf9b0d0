"""A shop's access token kept for every process that calls the shop (the poller's, the
orders service's): where a marketplace limits the grants an application may make a day, a
token granted by one process is used by the others until it expires. The service gives
a session that shares its token (``SharesToken``) the shop's ``TokenStore``
(``shop_sessions.VaultTokenStore``: Vault, beside the shop's entry); the session's
authentication reads it before asking the marketplace and writes back what it was given
(``kit.ClientCredentials``)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec


class StoredToken(msgspec.Struct, frozen=True, kw_only=True):
    """An access token as a store keeps it: ``expires_at`` a Unix time (every process's
    clock, unlike a monotonic one), ``granted_for`` a digest of the credentials it was
    granted on, so that a token of other credentials (a seller connected again with
    another account) is never taken."""

    access_token: str
    expires_at: float
    granted_for: str


class TokenStoreUnavailable(Exception):
    """The store could not be read or written (down, refused): the process grants a token
    of its own. Its message names where and why, never a token."""


class TokenStore(Protocol):
    """One shop's kept token."""

    async def read(self) -> StoredToken | None:
        """The token kept, None when there is none (or none readable);
        TokenStoreUnavailable."""
        ...

    async def write(self, token: StoredToken) -> None:
        """Keeps ``token`` in place of the one kept; TokenStoreUnavailable."""
        ...

    async def drop(self) -> None:
        """Forgets the token kept (the marketplace refused it); TokenStoreUnavailable."""
        ...


@runtime_checkable
class SharesToken(Protocol):
    """A session whose access token every process's session of the shop shares."""

    def share_token(self, store: TokenStore) -> None:
        """From its next call on, the session's token is read from and written to
        ``store``."""
        ...
