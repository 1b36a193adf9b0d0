"""Fnac double: the seeded shops, authentication, token expiry and key rotation, over HTTP."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
from fnac_helpers import Fnac, element, errors_of, shops, text
from keybuzz_double_fnac import FnacDoubleSettings
from keybuzz_double_fnac.double import TOKEN_LIFETIME
from keybuzz_double_fnac.shops import EXTRA_SHOP_ORDERS
from keybuzz_sandbox import SandboxConfig

pytestmark = pytest.mark.asyncio

UUID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")


async def test_shops_are_listed_with_their_credentials(fnac_http) -> None:
    listed = (await fnac_http.get("/_sandbox/fnac/shops")).json()
    assert [set(s) for s in listed] == [
        {"marketplace", "partner_id", "shop_id", "key", "name", "orders"}
    ] * len(listed)
    by_name = {s["name"]: s for s in listed}
    assert {s["marketplace"] for s in listed} == {"FNAC", "DARTY"}
    # Seeded in the last 90 days; the double's clock runs on, and new orders join them.
    assert 50_000 <= by_name["KeyBuzz Bench Fnac"]["orders"] < 50_100
    assert 48 <= by_name["KeyBuzz Démo Fnac"]["orders"] < 60
    # One seller on both marketplaces: one partner, two shops.
    fnac, darty = by_name["KeyBuzz Démo Fnac"], by_name["KeyBuzz Démo Darty"]
    assert fnac["partner_id"] == darty["partner_id"] and fnac["shop_id"] != darty["shop_id"]
    assert all(UUID.fullmatch(s[k]) for s in listed for k in ("partner_id", "shop_id", "key"))


async def test_extra_shops_are_fnac_and_darty_shops_of_their_own_partners(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60, doubles=(FnacDoubleSettings(extra_shops=3),)))
    listed = (await http.get("/_sandbox/fnac/shops")).json()
    assert len(listed) == 4 + 3
    extra = [s for s in listed if s["name"].startswith("KeyBuzz Boutique")]
    assert [(s["name"], s["marketplace"], s["orders"]) for s in extra] == [
        ("KeyBuzz Boutique Fnac 00001", "FNAC", EXTRA_SHOP_ORDERS),
        ("KeyBuzz Boutique Darty 00002", "DARTY", EXTRA_SHOP_ORDERS),
        ("KeyBuzz Boutique Fnac 00003", "FNAC", EXTRA_SHOP_ORDERS),
    ]
    ids = {k: {s[k] for s in listed} for k in ("partner_id", "shop_id", "key")}
    assert len(ids["shop_id"]) == len(ids["key"]) == 7 and len(ids["partner_id"]) == 6
    darty = Fnac(http, extra[1])
    assert (await darty.authenticate()).get("status") == "OK"
    listed_messages = await darty.call("messages_query", element("paging", "1"))
    assert listed_messages.get("status") == "OK"
    written = await http.post(
        f"/_sandbox/fnac/shops/{extra[1]['shop_id']}/messages", json={"description": "Où ?"}
    )
    assert written.status_code == 201, written.text
    mine = await darty.call("messages_query", element("message_id", written.json()["messageId"]))
    assert text(mine, "message/message_description") == "Où ?"


async def test_auth_gives_a_token_valid_for_an_hour(fnac_http) -> None:
    shop = (await shops(fnac_http))["KeyBuzz Démo Fnac"]
    fnac = Fnac(fnac_http, shop)
    answer = await fnac.authenticate()
    assert answer.get("status") == "OK" and UUID.fullmatch(fnac.token)
    validity = datetime.fromisoformat(text(answer, "validity")).timestamp()
    lifetime = fnac_http.sandbox.clock.real_duration(TOKEN_LIFETIME)
    assert abs(validity - (time.time() + lifetime)) < 5
    assert text(answer, "version")
    listed = await fnac.call("messages_query", element("paging", "1"))
    assert listed.get("status") == "OK"


@pytest.mark.parametrize("wrong", ["key", "partner_id", "shop_id"])
async def test_wrong_credentials_are_refused(fnac_http, wrong: str) -> None:
    shop = (await shops(fnac_http))["KeyBuzz Démo Fnac"]
    fnac = Fnac(fnac_http, {**shop, wrong: "11111111-2222-3333-4444-555555555555"})
    answer = await fnac.authenticate()
    assert answer.get("status") == "FATAL" and errors_of(answer) == ["ERR_001"]


async def test_requests_need_a_live_token_of_their_own_shop(fnac_http) -> None:
    listed = await shops(fnac_http)
    fnac = Fnac(fnac_http, listed["KeyBuzz Démo Fnac"])
    refused = await fnac.call("orders_query")  # never authenticated
    assert refused.get("status") == "FATAL" and errors_of(refused) == ["ERR_002"]
    await fnac.authenticate()
    other = Fnac(fnac_http, listed["KeyBuzz Démo Darty"])
    other.token = fnac.token  # a Fnac shop's token on the Darty shop
    assert errors_of(await other.call("orders_query")) == ["ERR_002"]
    assert (await fnac.call("orders_query")).get("status") == "OK"


async def test_expired_tokens_need_authentication_again(fnac_http) -> None:
    shop = (await shops(fnac_http))["KeyBuzz Démo Darty"]
    fnac = Fnac(fnac_http, shop)
    await fnac.authenticate()
    expired = await fnac_http.post(f"/_sandbox/fnac/shops/{shop['shop_id']}/expire-tokens")
    assert expired.json() == {"expired": 1}
    assert errors_of(await fnac.call("messages_query")) == ["ERR_002"]
    await fnac.authenticate()
    assert (await fnac.call("messages_query")).get("status") == "OK"
    # An hour (Fnac time) later the token has expired by itself.
    clock = fnac_http.sandbox.clock
    clock._now = lambda: time.time() + clock.real_duration(TOKEN_LIFETIME + 1)
    assert errors_of(await fnac.call("messages_query")) == ["ERR_002"]


async def test_a_rotated_key_refuses_the_old_one(fnac_http) -> None:
    shop = (await shops(fnac_http))["KeyBuzz Librairie Fnac"]
    old = Fnac(fnac_http, shop)
    await old.authenticate()
    rotated = (await fnac_http.post(f"/_sandbox/fnac/shops/{shop['shop_id']}/rotate-key")).json()
    assert rotated["key"] != shop["key"]
    assert errors_of(await old.call("orders_query")) == ["ERR_002"]  # its tokens went too
    assert errors_of(await old.authenticate()) == ["ERR_001"]
    fresh = Fnac(fnac_http, {**shop, "key": rotated["key"]})
    assert (await fresh.authenticate()).get("status") == "OK"
    assert (await shops(fnac_http))["KeyBuzz Librairie Fnac"]["key"] == rotated["key"]


async def test_a_rotated_key_and_an_advance_survive_a_restart(serve, tmp_path) -> None:
    """What the double keeps in the sandbox's state (SANDBOX_STATE_DIR), read back by the
    next sandbox on the same directory."""
    config = SandboxConfig(state_dir=str(tmp_path))
    first = await serve(config)
    shop = (await shops(first))["KeyBuzz Librairie Fnac"]
    rotated = (await first.post(f"/_sandbox/fnac/shops/{shop['shop_id']}/rotate-key")).json()
    advanced = await first.post(f"/_sandbox/fnac/shops/{shop['shop_id']}/advance", json={})
    assert advanced.status_code == 200, advanced.text
    placed = (await shops(first))["KeyBuzz Librairie Fnac"]["orders"]
    assert placed > shop["orders"]
    again = (await shops(await serve(config)))["KeyBuzz Librairie Fnac"]
    assert (again["key"], again["orders"]) == (rotated["key"], placed)


async def test_unknown_shops_on_admin_endpoints(fnac_http) -> None:
    unknown = "11111111-2222-3333-4444-555555555555"
    for path in ("expire-tokens", "rotate-key"):
        assert (await fnac_http.post(f"/_sandbox/fnac/shops/{unknown}/{path}")).status_code == 404
    assert (await fnac_http.get(f"/_sandbox/fnac/shops/{unknown}/sent")).status_code == 404


async def test_token_requests_are_counted_per_shop(fnac_http) -> None:
    listed = await shops(fnac_http)
    shop, other = listed["KeyBuzz Démo Fnac"], listed["KeyBuzz Démo Darty"]

    async def counted(of: dict[str, str]) -> int:
        path = f"/_sandbox/fnac/shops/{of['shop_id'].lower()}/token-requests"
        response = await fnac_http.get(path)
        assert response.status_code == 200, response.text
        return response.json()["tokenRequests"]  # type: ignore[no-any-return]

    assert (await counted(shop), await counted(other)) == (0, 0)
    fnac = Fnac(fnac_http, shop)
    await fnac.authenticate()
    assert (await fnac.call("messages_query")).get("status") == "OK"
    assert (await fnac.call("orders_query")).get("status") == "OK"
    assert await counted(shop) == 1  # calls carrying the token are no token requests
    await Fnac(fnac_http, {**shop, "key": "wrong"}).authenticate()
    assert (await counted(shop), await counted(other)) == (2, 0)  # refused ones count too
    unknown = "/_sandbox/fnac/shops/11111111-2222-3333-4444-555555555555/token-requests"
    assert (await fnac_http.get(unknown)).status_code == 404
