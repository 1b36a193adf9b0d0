"""The kit's login token (kit/auth.py, ``LoginToken``): one login for the first call, the
token kept, one login again for every caller that found it refused at once, and no error
quoting it. No server."""

from __future__ import annotations

import asyncio

import pytest
from keybuzz_shared.connectors.kit import HeaderAuth


class Marketplace:
    """Grants token-1, token-2 … at each login, a little later."""

    def __init__(self) -> None:
        self.logins = 0

    async def login(self) -> str:
        self.logins += 1
        await asyncio.sleep(0.01)
        return f"token-{self.logins}"


def tokens(market: Marketplace) -> HeaderAuth.LoginToken[str]:
    return HeaderAuth.LoginToken(market.login, lambda grant: grant, secrets=["the-key"])


async def test_the_first_calls_share_one_login_and_the_token_is_kept() -> None:
    market = Marketplace()
    auth = tokens(market)
    carried = await asyncio.gather(*(auth.headers() for _ in range(5)))
    assert carried == [{"Authorization": "Bearer token-1"}] * 5
    assert await auth.headers() == {"Authorization": "Bearer token-1"}
    assert market.logins == 1


async def test_callers_finding_the_token_refused_at_once_share_one_new_login() -> None:
    market = Marketplace()
    auth = tokens(market)
    stale = await auth.headers()
    renewed = await asyncio.gather(*(auth.renewed(None, stale) for _ in range(5)))
    assert renewed == [{"Authorization": "Bearer token-2"}] * 5 and market.logins == 2
    assert await auth.authenticate() == "token-3"  # asked for: a login whatever is kept


async def test_no_error_may_quote_the_key_or_the_token_and_a_refused_login_keeps_none() -> None:
    market = Marketplace()
    auth = tokens(market)
    await auth.headers()
    assert set(auth.secrets()) == {"the-key", "token-1"}
    assert "token-1" not in repr(auth)

    async def refused() -> str:
        raise PermissionError("key refused")

    failing = HeaderAuth.LoginToken(refused, lambda grant: grant)
    with pytest.raises(PermissionError):
        await failing.headers()
    assert failing.granted is None and set(failing.secrets()) == {""}
