"""The kit's client credentials (kit/auth.py, ``ClientCredentials``) at a token endpoint that
grants no token for a while: every shop's call waiting on one is "later", said once in the
log however many shops ask, then once when it grants again; each endpoint said apart. No
server: the endpoint is the requester a strategy asks."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from keybuzz_shared.connectors import seam
from keybuzz_shared.connectors.kit import CallErrors, ClientCredentials

STOPPED, AGAIN = "grants no token now", "grants tokens again"


class TokenEndpoint:
    """The requester's ``token``: unavailable while ``granting`` is False."""

    def __init__(self) -> None:
        self.granting, self.asked = False, 0

    async def token(
        self, token_url: str, form: bytes, *, headers: Mapping[str, str] | None = None
    ) -> Any:
        self.asked += 1
        if not self.granting:
            raise seam.MarketplaceUnavailable("HTTP 429, no token granted now")
        return {"access_token": f"token-{self.asked}", "expires_in": 7200}

    errors = CallErrors.labelled("Shop")


def said(caplog: pytest.LogCaptureFixture, words: str, host: str) -> int:
    return sum(
        words in r.getMessage() and getattr(r, "token_host", "") == host for r in caplog.records
    )


async def test_a_token_endpoint_granting_none_is_said_once_and_once_again_when_it_grants(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    host, other = (f"tokens-{uuid.uuid4().hex[:8]}.test" for _ in range(2))
    endpoint = TokenEndpoint()
    shops = [ClientCredentials(f"https://{host}/token", f"shop-{n}", "s") for n in range(3)]
    elsewhere = ClientCredentials(f"https://{other}/token", "shop-x", "s")
    for auth in (*shops, *shops, elsewhere):
        with pytest.raises(seam.MarketplaceUnavailable):
            await auth.headers(endpoint)
    assert endpoint.asked == 7  # each call asked: only the saying is once
    assert (said(caplog, STOPPED, host), said(caplog, STOPPED, other)) == (1, 1)
    assert said(caplog, AGAIN, host) == 0

    endpoint.granting = True
    for auth in shops:
        assert (await auth.headers(endpoint))["Authorization"].startswith("Bearer token-")
    assert (said(caplog, AGAIN, host), said(caplog, AGAIN, other)) == (1, 0)

    endpoint.granting = False  # stopped again: said again, once
    for auth in shops:
        with pytest.raises(seam.MarketplaceUnavailable):
            await auth.authenticate(endpoint)
    assert said(caplog, STOPPED, host) == 2
