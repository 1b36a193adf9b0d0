"""Login with Amazon token endpoint."""

from __future__ import annotations

import base64

import pytest
from keybuzz_double_amazon.env import AmazonDoubleSettings
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import (
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    FR,
    FR_SELLER,
    HeldClock,
    authorize,
    connect,
    headers,
    lwa,
)

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

SINCE = "2020-01-01T00:00:00Z"


async def test_code_exchange_returns_bearer_tokens(client) -> None:
    tokens = await connect(client)
    assert tokens["access_token"].startswith("Atza|") and tokens["refresh_token"].startswith(
        "Atzr|"
    )
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 60  # 3600 s at time scale 60


async def test_code_is_single_use(client) -> None:
    code = await authorize(client)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    assert (await lwa(client, **form)).status_code == 200
    again = await lwa(client, **form)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "The request has an invalid grant parameter : code",
    }


async def test_code_expires_after_five_scaled_minutes(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=60))  # 300 s -> 5 real s
    clock = HeldClock(client)
    in_time, too_late = await authorize(client), await authorize(client)
    form = {"grant_type": "authorization_code", "redirect_uri": CALLBACK}
    clock.advance(4.9)
    assert (await lwa(client, code=in_time, **form)).status_code == 200
    clock.advance(0.2)
    response = await lwa(client, code=too_late, **form)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_redirect_uri_must_match_consent(client) -> None:
    code = await authorize(client)
    response = await lwa(
        client, grant_type="authorization_code", code=code, redirect_uri="http://localhost:8001/x"
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_wrong_secret_is_invalid_client_401_and_does_not_burn_code(client) -> None:
    code = await authorize(client)
    bad = await client.post(
        "/auth/o2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": CLIENT_ID,
            "client_secret": "nope",
        },
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert (
        await lwa(client, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    ).status_code == 200


async def test_basic_auth_client_credentials_are_accepted(client) -> None:
    code = await authorize(client)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = await client.post(
        "/auth/o2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200


async def test_request_errors(client) -> None:
    missing = await lwa(client, grant_type="authorization_code")
    assert missing.status_code == 400 and missing.json() == {
        "error": "invalid_request",
        "error_description": "The request is missing a required parameter : code",
    }
    unsupported = await lwa(client, grant_type="password")
    assert (
        unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    )
    no_grant = await client.post("/auth/o2/token", data={"client_id": CLIENT_ID})
    assert no_grant.json()["error"] == "invalid_request"
    as_json = await client.post("/auth/o2/token", json={"grant_type": "refresh_token"})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"


async def test_refresh_gives_new_working_access_token(client) -> None:
    tokens = await connect(client)
    refreshed = await lwa(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 60
    orders = await client.get(
        "/orders/v0/orders",
        params={"MarketplaceIds": FR, "CreatedAfter": SINCE},
        headers=headers(body["access_token"]),
    )
    assert orders.status_code == 200


async def test_tampered_refresh_token_is_invalid_grant(client) -> None:
    tokens = await connect(client)
    forged = tokens["refresh_token"][:-3] + "abc"
    response = await lwa(client, grant_type="refresh_token", refresh_token=forged)
    assert response.status_code == 400 and response.json() == {
        "error": "invalid_grant",
        "error_description": "The request has an invalid grant parameter : refresh_token",
    }


async def test_revoked_refresh_token_gets_invalid_grant(client) -> None:
    first, second = await connect(client), await connect(client)
    revoked = await client.post(
        "/_sandbox/revocations", json={"refreshToken": first["refresh_token"]}
    )
    assert revoked.status_code == 200 and revoked.json()["sellingPartnerId"] == FR_SELLER
    refused = await lwa(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert refused.json()["error"] == "invalid_grant"
    assert (
        await lwa(client, grant_type="refresh_token", refresh_token=second["refresh_token"])
    ).status_code == 200


async def test_seller_revocation_revokes_earlier_tokens_only(client) -> None:
    old = await connect(client)
    assert (
        await client.post("/_sandbox/revocations", json={"sellingPartnerId": FR_SELLER})
    ).status_code == 200
    new = await connect(client)
    assert (
        await lwa(client, grant_type="refresh_token", refresh_token=old["refresh_token"])
    ).status_code == 400
    assert (
        await lwa(client, grant_type="refresh_token", refresh_token=new["refresh_token"])
    ).status_code == 200


async def test_tokens_survive_restart_and_revocations_persist_in_state_dir(
    make_client, tmp_path
) -> None:
    config = SandboxConfig(time_scale=60, state_dir=str(tmp_path))
    first = await make_client(config)
    kept, revoked = await connect(first), await connect(first)
    await first.post("/_sandbox/revocations", json={"refreshToken": revoked["refresh_token"]})
    restarted = await make_client(config)
    assert (
        await lwa(restarted, grant_type="refresh_token", refresh_token=kept["refresh_token"])
    ).status_code == 200
    assert (
        await lwa(restarted, grant_type="refresh_token", refresh_token=revoked["refresh_token"])
    ).status_code == 400
    other_secret = await make_client(
        SandboxConfig(doubles=(AmazonDoubleSettings(signing_secret="another-secret"),))
    )
    assert (
        await lwa(other_secret, grant_type="refresh_token", refresh_token=kept["refresh_token"])
    ).status_code == 400


async def test_client_credentials_grant_needs_a_grantless_scope(client) -> None:
    ok = await lwa(
        client, grant_type="client_credentials", scope="sellingpartnerapi::notifications"
    )
    assert ok.status_code == 200 and ok.json()["scope"] == "sellingpartnerapi::notifications"
    assert "refresh_token" not in ok.json()
    assert (await lwa(client, grant_type="client_credentials")).json()["error"] == "invalid_request"
    assert (await lwa(client, grant_type="client_credentials", scope="profile")).json()[
        "error"
    ] == "invalid_scope"
    # A grantless token is not a seller's: seller operations refuse it.
    orders = await client.get(
        "/orders/v0/orders",
        params={"MarketplaceIds": FR, "CreatedAfter": SINCE},
        headers=headers(ok.json()["access_token"]),
    )
    assert orders.status_code == 403


async def test_code_exchange_without_redirect_uri_is_refused_and_keeps_the_code(client) -> None:
    code = await authorize(client)
    missing = await lwa(client, grant_type="authorization_code", code=code)
    assert missing.status_code == 400 and missing.json() == {
        "error": "invalid_request",
        "error_description": "The request is missing a required parameter : redirect_uri",
    }
    ok = await lwa(client, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert ok.status_code == 200


async def test_json_body_is_accepted_like_amazons_sdk_posts_it(client) -> None:
    code = await authorize(client)
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    exchanged = await client.post("/auth/o2/token", json=body)
    assert exchanged.status_code == 200, exchanged.text
    refreshed = await client.post(
        "/auth/o2/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": exchanged.json()["refresh_token"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert refreshed.status_code == 200 and refreshed.json()["access_token"].startswith("Atza|")


async def test_tokens_are_as_long_as_amazons(client) -> None:
    tokens = await connect(client)
    assert tokens["access_token"].startswith("Atza|") and len(tokens["access_token"]) >= 350
    assert tokens["refresh_token"].startswith("Atzr|") and len(tokens["refresh_token"]) >= 350
