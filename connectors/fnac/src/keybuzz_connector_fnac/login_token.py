"""A login token, the authentication strategy of an API that trades the shop's own
credentials (an id and a key) for a token at a login call, and takes the token with every
call after it: in a header, or in the request's body where the API is XML.

The marketplace publishes no token life: the token is kept until a call is refused for it,
then one login for every caller that found it refused at once (the first renews, the
others take its token). It is the kit's ``Auth`` (auth.py): what a call carries is
``carry(token)``, and no error may quote the token or the ``secrets`` given (the key)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

G = TypeVar("G")  # what the login grants: the token and what comes with it


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class LoginToken(Generic[G]):
    """``login``: the login call, its grant; ``token``: the grant's token; ``carry``: what
    a call carries of it (headers, or the fields an XML request holds)."""

    def __init__(
        self,
        login: Callable[[], Awaitable[G]],
        token: Callable[[G], str],
        *,
        carry: Callable[[str], dict[str, str]] = bearer,
        secrets: Iterable[str] = (),
    ) -> None:
        self._login = login
        self._token = token
        self._carry = carry
        self._secrets = tuple(secrets)
        self._granted: G | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"LoginToken(granted={self._granted is not None})"

    @property
    def granted(self) -> G | None:
        """The grant kept (None before the first login, or after a refused one)."""
        return self._granted

    @property
    def params(self) -> Mapping[str, str]:
        return {}

    def secrets(self) -> Iterable[str]:
        granted = self._granted
        return (*self._secrets, self._token(granted) if granted is not None else "")

    def public_headers(self) -> dict[str, str]:
        return {}

    async def headers(self, requester: Any = None) -> dict[str, str]:
        granted = self._granted
        if granted is None:
            granted = await self._renew(stale=None)
        return self._carry(self._token(granted))

    async def renewed(self, requester: Any, stale: Mapping[str, str]) -> dict[str, str]:
        granted = self._granted
        if granted is not None and self._carry(self._token(granted)) != dict(stale):
            return self._carry(self._token(granted))  # another caller renewed it
        return self._carry(self._token(await self._renew(stale=granted)))

    async def authenticate(self) -> G:
        """A new login now, whatever the token kept."""
        return await self._renew(stale=self._granted)

    def forget(self) -> None:
        """The token kept is not to be sent again (the marketplace refused one just
        granted): the next call logs in first."""
        self._granted = None

    async def _renew(self, *, stale: G | None) -> G:
        async with self._lock:
            if self._granted is not None and self._granted is not stale:
                return self._granted
            self._granted = None  # a login refused leaves none to send
            self._granted = await self._login()
            return self._granted
