"""The connect use case holds what was typed to the connector's declared fields before it
asks the marketplace: a refusal names the field and the rule, asks nothing, stores nothing,
and never holds a secret that was typed."""

from __future__ import annotations

import logging

import pytest
from keybuzz_oauth import credential_connect
from keybuzz_oauth.errors import InvalidCredentials
from keybuzz_shared.tenancy import Principal, TenantContext
from oauth_fakes import ShopKey, fake_oauth

UUID = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"
SECRET = "k3y-That-Stays-Secret"


@pytest.mark.parametrize(
    ("typed", "refusal"),
    [
        (ShopKey(UUID, "not-a-uuid", SECRET), "shopId: must be a UUID"),
        (
            ShopKey(UUID, UUID, SECRET) | {"sellerId": "1"},
            "sellerId: not a field of this marketplace's form",
        ),
        ({"partnerId": UUID, "key": SECRET}, "shopId: is required"),
    ],
    ids=["format", "unknown", "missing"],
)
async def test_what_breaks_the_form_is_refused_before_anything_is_asked(
    typed: dict[str, str], refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = fake_oauth()
    tenant = TenantContext(principal=Principal(user_id="u", tenants=("t1",)), tenant_id="t1")
    with pytest.raises(InvalidCredentials) as refused:
        await credential_connect.connect(fake.ports, tenant, "fnac", typed)
    assert refused.value.message == refusal
    assert fake.shops.checked == [] and fake.vault.shops == {} and fake.units.published == []
    assert all(SECRET not in f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
