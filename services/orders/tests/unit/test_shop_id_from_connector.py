"""orders takes a shop's id from the field its connector declares ``account``, whatever the
field is called: no marketplace's field name in orders (fast, no servers)."""

from __future__ import annotations

from typing import Any

import pytest
from keybuzz_orders.connector_source import ShopKeyRefused, VaultMarketplaces
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.seam import CredentialField


class NewShopConnector:
    """A throwaway marketplace whose shop id is stored under ``seller`` (no ``shop_id``)."""

    marketplace = "NEWSHOP"
    order_feed = None
    credential_fields = (
        CredentialField(name="seller", json_name="seller", label="Seller", account=True),
        CredentialField(name="token", json_name="token", label="Token", secret=True),
    )

    def credentials_path(self, tenant_id: str) -> str:
        return f"secret/keybuzz/tenants/{tenant_id}/newshop_api"


class StoredVault:
    def __init__(self, stored: dict[str, dict[str, Any]]) -> None:
        self.stored = stored

    async def read(self, path: str) -> dict[str, Any] | None:
        return self.stored.get(path)


async def test_the_shop_id_is_the_connectors_account_field() -> None:
    path = "secret/keybuzz/tenants/t1/newshop_api"
    vault = StoredVault({path: {"seller": "S-42", "token": "x", "shop_id": "not-this"}})
    with registry.registered(NewShopConnector()):  # type: ignore[arg-type]
        marketplaces = VaultMarketplaces(vault, None)  # type: ignore[arg-type]
        assert await marketplaces.marketplace_id("t1", "NEWSHOP") == "S-42"
        vault.stored[path] = {"shop_id": "S-42", "token": "x"}  # its account field missing
        with pytest.raises(ShopKeyRefused):
            await marketplaces.marketplace_id("t1", "NEWSHOP")
