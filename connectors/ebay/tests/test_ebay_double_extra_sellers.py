"""The eBay double's extra sellers (``SANDBOX_EBAY_EXTRA_SHOPS``): listed beside the seeded
ones, each refresh token traded for an access token that is its own seller's, a revoked
one refused."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from keybuzz_double_ebay import EbayDoubleSettings
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.fixtures import serve, serving  # noqa: F401 - fixture

served_doubles = serving("ebay")

TOKEN = "/ebay/identity/v1/oauth2/token"
CONVERSATIONS = "/ebay/commerce/message/v1/conversation?conversation_type=FROM_MEMBERS"


async def refreshed(http: httpx.AsyncClient, seller: dict[str, Any]) -> httpx.Response:
    return await http.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": seller["refreshToken"]},
        auth=(seller["clientId"], seller["clientSecret"]),
    )


async def test_extra_sellers_are_listed_each_token_its_own(serve: Any) -> None:  # noqa: F811
    http = await serve(SandboxConfig(doubles=(EbayDoubleSettings(extra_shops=3),)))
    listed = (await http.get("/_sandbox/ebay/shops")).json()
    extra = [s for s in listed if "Boutique" in s["name"]]
    assert len(listed) == 6 and len(extra) == 3
    assert len({s["refreshToken"] for s in listed}) == len({s["number"] for s in listed}) == 6
    for seller in extra:
        answer = await refreshed(http, seller)
        assert answer.status_code == 200, answer.text
        bearer = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        user = await http.get("/ebay/commerce/identity/v1/user/", headers=bearer)
        assert user.json()["userId"] == seller["userId"]
    revoked = extra[0]
    await http.post(f"/_sandbox/ebay/shops/{revoked['number']}/revoke")
    assert (await refreshed(http, revoked)).status_code == 400
    [renewed] = [
        s
        for s in (await http.get("/_sandbox/ebay/shops")).json()
        if s["number"] == revoked["number"]
    ]
    assert (await refreshed(http, renewed)).status_code == 200
    read = SandboxConfig.from_env({"SANDBOX_EBAY_EXTRA_SHOPS": "3"})
    assert read.of(EbayDoubleSettings).extra_shops == 3


async def test_the_applications_limit_holds_in_a_window_an_admin_sets(serve: Any) -> None:  # noqa: F811
    """A bench's scaled day: the app's limit counted per window of seconds, every seller's
    calls together, a 429 past it until the next window."""
    http = await serve(SandboxConfig(doubles=(EbayDoubleSettings(extra_shops=2),)))
    sellers = [
        s for s in (await http.get("/_sandbox/ebay/shops")).json() if "Boutique" in s["name"]
    ]
    bearers = []
    for seller in sellers:
        token = (await refreshed(http, seller)).json()["access_token"]
        bearers.append({"Authorization": f"Bearer {token}"})
    window = 1
    while True:
        # The calls below in one window: begun at its start, and again in a window twice as
        # long where a loaded machine's calls reached past its end (the double's windows are
        # wall-clock).
        window *= 2
        assert window <= 64, "four calls never fit in one window"
        await http.put("/_sandbox/ebay/limits", json={"app": 3, "window": window})
        await asyncio.sleep(window - time.time() % window)
        began = time.time() // window
        answered = [
            (await http.get(CONVERSATIONS, headers=bearers[n % 2])).status_code for n in range(4)
        ]
        if time.time() // window == began:
            break
    assert answered == [200, 200, 200, 429]
    await asyncio.sleep(window)
    assert (await http.get(CONVERSATIONS, headers=bearers[0])).status_code == 200
