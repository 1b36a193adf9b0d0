"""One contract, two verifiers: the unit tier's ``FakeShops`` (``oauth_fakes.py``) and
``adapters.ShopVerifier`` on the sandbox's Fnac double over HTTP answer the same credentials
the same way, so the unit tests' marketplace cannot drift from the real client's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

import httpx
import pytest
from keybuzz_devstack.testing import NOWHERE, shop_api_at
from keybuzz_oauth.adapters import ShopVerifier
from keybuzz_oauth.connections import ShopCredentials
from keybuzz_oauth.ports import (
    ShopAnswerUnreadable,
    ShopCredentialsVerifier,
    ShopRefused,
    ShopUnavailable,
)
from oauth_fakes import FakeShops, fnac_shop


@dataclass
class Marketplace:
    verifier: ShopCredentialsVerifier
    shop: ShopCredentials  # a shop it knows, with its key
    unreachable: ShopCredentialsVerifier
    outage: Callable[[], Awaitable[None]]  # from now on: 503s
    garbage: Callable[[], Awaitable[None]]  # from now on: a document with entities


def credentials(marketplace: str, partner_id: str, shop_id: str, key: str) -> ShopCredentials:
    return fnac_shop("t1", marketplace, partner_id, shop_id, key)


def changed(shop: ShopCredentials, marketplace: str | None = None, **typed: str) -> ShopCredentials:
    """``shop`` with some of its fields (or its marketplace value) changed."""
    return replace(
        shop, marketplace=marketplace or shop.marketplace, fields={**shop.fields, **typed}
    )


@pytest.fixture(params=["memory", "fnac-double"])
async def marketplace(
    request: pytest.FixtureRequest, sandbox_url: str
) -> AsyncIterator[Marketplace]:
    if request.param == "memory":
        fake, down = FakeShops(), FakeShops()
        down.down = True
        shop = credentials("FNAC", "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D", "SHOP-1", "k3y")
        fake.open_shop(shop.fields["partner_id"], shop.shop_id, shop.fields["key"])

        async def outage() -> None:
            fake.down = True

        async def garbage() -> None:
            fake.unreadable = True

        yield Marketplace(fake, shop, down, outage, garbage)
        return
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/fnac", timeout=10) as admin:
        [seeded, *_] = [
            s for s in (await admin.get("/shops")).json() if s["marketplace"] == "DARTY"
        ]
        shop = credentials("DARTY", seeded["partner_id"], seeded["shop_id"], seeded["key"])

        async def arm(faults: dict[str, object]) -> None:
            response = await admin.put("/faults", json={**faults, "operations": ["auth"]})
            assert response.status_code == 200, response.text

        async def outage() -> None:
            await arm({"failNext": 10, "failStatus": 503})

        async def garbage() -> None:
            await arm({"malformedNext": 10, "malformedKind": "entities"})

        api, nowhere = (
            {m: shop_api_at(m, u) for m in ("FNAC", "DARTY")}
            for u in (f"{sandbox_url}/fnac/api.php/", NOWHERE)
        )
        # The double on loopback: development's allowance (production's is tested apart).
        verifier = ShopVerifier(api, inside_allowed=True)
        unreachable = ShopVerifier(nowhere, inside_allowed=True)
        try:
            yield Marketplace(verifier, shop, unreachable, outage, garbage)
        finally:
            assert (await admin.delete("/faults")).status_code == 204
            await verifier.aclose()
            await unreachable.aclose()


async def test_the_shops_own_credentials_are_accepted(marketplace: Marketplace) -> None:
    await marketplace.verifier.verify(marketplace.shop)


@pytest.mark.parametrize("wrong", ["key", "shop_id", "partner_id"])
async def test_any_wrong_part_is_refused(marketplace: Marketplace, wrong: str) -> None:
    shop = marketplace.shop
    typed = {
        "key": shop.fields["key"] + "x",
        "shop_id": "99999999-9999-4999-8999-999999999999",
        "partner_id": "00000000-0000-4000-8000-000000000000",
    }[wrong]
    with pytest.raises(ShopRefused) as refused:
        await marketplace.verifier.verify(changed(shop, **{wrong: typed}))
    assert shop.fields["key"] not in str(refused.value)


async def test_a_marketplace_down_or_unreachable_is_unavailable(marketplace: Marketplace) -> None:
    with pytest.raises(ShopUnavailable):
        await marketplace.unreachable.verify(marketplace.shop)
    await marketplace.outage()
    with pytest.raises(ShopUnavailable) as unavailable:
        await marketplace.verifier.verify(marketplace.shop)
    assert marketplace.shop.fields["key"] not in str(unavailable.value)


async def test_an_answer_that_is_not_the_apis_is_unreadable(marketplace: Marketplace) -> None:
    await marketplace.garbage()
    with pytest.raises(ShopAnswerUnreadable) as unreadable:
        await marketplace.verifier.verify(marketplace.shop)
    assert marketplace.shop.fields["key"] not in str(unreadable.value)


async def test_the_identity_is_the_accounts_whatever_the_marketplace_value(
    marketplace: Marketplace,
) -> None:
    """One API serves both values: the same shop is one account under either, in any case."""
    shop = marketplace.shop
    identity = await marketplace.verifier.verify(shop)
    assert identity and shop.fields["key"] not in identity
    for value in ("FNAC", "DARTY"):
        for spelt in (shop.shop_id.upper(), shop.shop_id.lower()):
            same = changed(shop, value, shop_id=spelt)
            assert await marketplace.verifier.verify(same) == identity
