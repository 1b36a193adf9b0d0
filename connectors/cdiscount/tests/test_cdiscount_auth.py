"""Cdiscount double: the token endpoint (client credentials) and Bearer + SellerId on every
call, over HTTP."""

from __future__ import annotations

import time

import pytest
from cdiscount_helpers import ADMIN, API, DEMO, MAISON, TOKEN, Octopia, seller, shops
from keybuzz_sandbox import SandboxConfig


async def test_right_credentials_get_a_bearer_token_of_7200_seconds(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    octopia = Octopia(http, (await shops(http))[DEMO])
    response = await octopia.request_token()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7200
    octopia.token = body["access_token"]
    assert (await octopia.get("/typologies")).status_code == 200


@pytest.mark.parametrize("which", ["secret", "client"])
async def test_wrong_credentials_get_invalid_client(serve, which: str) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    shop = dict((await shops(http))[DEMO])
    shop["clientId" if which == "client" else "clientSecret"] += "x"
    response = await Octopia(http, shop).request_token()
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.text


async def test_a_token_request_must_be_a_client_credentials_form(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    shop = (await shops(http))[DEMO]
    form = {"client_id": shop["clientId"], "client_secret": shop["clientSecret"]}
    password = await http.post(TOKEN, data={**form, "grant_type": "password"})
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    as_json = await http.post(TOKEN, json={**form, "grant_type": "client_credentials"})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"


async def test_the_client_may_authenticate_with_http_basic(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    shop = (await shops(http))[DEMO]
    form = {"grant_type": "client_credentials"}
    basic = await http.post(TOKEN, data=form, auth=(shop["clientId"], shop["clientSecret"]))
    assert basic.status_code == 200 and basic.json()["access_token"]
    garbled = await http.post(TOKEN, data=form, headers={"Authorization": "Basic %%%"})
    assert garbled.status_code == 401 and garbled.json()["error"] == "invalid_client"


async def test_a_token_expires_after_its_7200_seconds(serve) -> None:
    http = await serve(SandboxConfig(time_scale=7200))  # 7,200 Octopia seconds: one real second
    # The double's clock held at each moment asked: a busy machine's pauses move nothing.
    clock = http.sandbox.clock
    granted = clock.now()
    with clock.held(at=granted):
        octopia = await seller(http)
    with clock.held(at=granted + clock.real_duration(7199)):
        assert (await octopia.get("/typologies")).status_code == 200
    with clock.held(at=granted + clock.real_duration(7201)):
        expired = await octopia.get("/typologies")
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    await octopia.authenticate()
    assert (await octopia.get("/typologies")).status_code == 200


async def test_the_token_endpoint_allows_500_requests_an_hour_per_client(serve) -> None:
    http = await serve(SandboxConfig())
    listed = await shops(http)
    octopia = Octopia(http, listed[DEMO])
    started, granted = time.monotonic(), 0
    while (refused := await octopia.request_token()).status_code == 200 and granted < 600:
        granted += 1
    # 500 at once, then one every 7.2 s (500 an hour) while the requests were made.
    assert 500 <= granted <= 500 + (time.monotonic() - started) / 7.2 + 1
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) >= 1
    other = await Octopia(http, listed[MAISON]).request_token()  # per client
    assert other.status_code == 200
    assert (await http.post(f"{ADMIN}/ratelimits/reset")).status_code == 204
    assert (await octopia.request_token()).status_code == 200


async def test_every_call_needs_a_bearer_token(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    octopia = await seller(http)
    missing = await http.get(f"{API}/discussions", headers={"SellerId": octopia.shop["sellerId"]})
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    octopia.token = "not-a-token"
    unknown = await octopia.get("/discussions")
    assert unknown.status_code == 401 and "invalid_token" in unknown.headers["WWW-Authenticate"]


async def test_every_call_needs_the_tokens_seller_id(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    listed = await shops(http)
    demo = await seller(http)
    headers = {"Authorization": f"Bearer {demo.token}"}
    no_seller = await http.get(f"{API}/discussions", headers=headers)
    assert no_seller.status_code == 403 and "SellerId" in no_seller.json()["detail"]
    other = {**headers, "SellerId": listed[MAISON]["sellerId"]}  # another seller's id
    assert (await http.get(f"{API}/discussions", headers=other)).status_code == 403
    assert (await http.get(f"{API}/orders", headers=other)).status_code == 403


async def test_a_rotated_secret_refuses_the_old_secret_and_its_tokens(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    octopia = await seller(http)
    rotated = (await http.post(f"{ADMIN}/shops/{octopia.shop['sellerId']}/rotate-secret")).json()
    assert (await octopia.get("/typologies")).status_code == 401
    assert (await octopia.request_token()).status_code == 401
    assert (await octopia.request_token(rotated["clientSecret"])).status_code == 200


async def test_token_requests_are_counted_per_shop(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    listed = await shops(http)
    demo, maison = listed[DEMO], listed[MAISON]

    async def counted(of: dict[str, str]) -> int:
        response = await http.get(f"{ADMIN}/shops/{of['sellerId']}/token-requests")
        assert response.status_code == 200, response.text
        return response.json()["tokenRequests"]  # type: ignore[no-any-return]

    assert (await counted(demo), await counted(maison)) == (0, 0)
    octopia = await Octopia(http, demo).authenticate()
    assert (await octopia.get("/typologies")).status_code == 200
    assert (await octopia.get("/discussions")).status_code == 200
    assert await counted(demo) == 1  # calls carrying the token are no token requests
    wrong = await Octopia(http, {**demo, "clientSecret": "wrong"}).request_token()
    assert wrong.status_code == 401
    assert (await counted(demo), await counted(maison)) == (2, 0)  # refused ones count too
    assert (await http.get(f"{ADMIN}/shops/unknown/token-requests")).status_code == 404


def test_ten_thousand_extra_shops_have_a_seller_id_each() -> None:
    """The bench's 10,000 shops: seller ids drawn from a hash must not collide (a clash
    would list two shops as one)."""
    from keybuzz_double_cdiscount.shops import credentials, default_shops

    specs = default_shops(bench_orders=50, extra=10_000)
    seed = SandboxConfig().seed
    assert len({credentials(seed, s).seller_id for s in specs}) == len(specs)
