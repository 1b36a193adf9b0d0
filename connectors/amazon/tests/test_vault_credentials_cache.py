"""The short-lived cache of the tenant-credential check (keybuzz_connector_amazon.credentials), on real OpenBao."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from keybuzz_connector_amazon.credentials import (
    TenantCredentials,
    check_tenant_credentials,
    delete_tenant_credentials,
    load_tenant_credentials,
    store_tenant_credentials,
    tenant_credentials_path,
)
from keybuzz_connector_amazon.errors import CredentialsMissing
from keybuzz_devstack.bootstrap import service_token_id
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_shared.vault import VaultClient, VaultError


class CountingVault(VaultClient):
    """The real client, counting the reads it sends to Vault."""

    reads = 0

    async def read(self, path: str) -> dict[str, Any] | None:
        self.reads += 1
        return await super().read(path)


def _credentials(tenant_id: str, seller_id: str) -> TenantCredentials:
    return TenantCredentials(
        tenant_id=tenant_id,
        refresh_token=f"Atzr|{uuid.uuid4().hex}",
        seller_id=seller_id,
        marketplace_id="A13V1IB3VIYZZH",
        region="eu",
    )


@pytest.fixture
def tenant_id() -> str:
    return f"cache-{uuid.uuid4().hex[:8]}"


async def test_repeated_checks_read_vault_once_and_see_outside_changes_after_max_age(
    stack, tenant_id
):
    oauth = CountingVault(stack.vault_addr, token=service_token_id("oauth"))
    elsewhere = VaultClient(stack.vault_addr, token=DEV_VAULT_ROOT_TOKEN)  # another process
    await store_tenant_credentials(elsewhere, _credentials(tenant_id, "SELLER1"))

    checks = await asyncio.gather(*(check_tenant_credentials(oauth, tenant_id) for _ in range(50)))
    assert {c.seller_id for c in checks} == {"SELLER1"}
    assert oauth.reads == 1  # fifty concurrent status checks, one Vault read
    read_by = time.monotonic()  # ... and before this

    await store_tenant_credentials(elsewhere, _credentials(tenant_id, "SELLER2"))
    assert (await check_tenant_credentials(oauth, tenant_id)).seller_id == "SELLER1"  # cached
    # Max ages on either side of the copy's age, however long a busy machine takes between
    # two lines: younger than an hour, the copy; older than its age as measured, Vault again.
    fresh = await load_tenant_credentials(oauth, tenant_id, max_age=3600)
    assert fresh.seller_id == "SELLER1"
    await asyncio.sleep(0.3)
    older_than = time.monotonic() - read_by - 0.1
    stale = await load_tenant_credentials(oauth, tenant_id, max_age=older_than)
    assert stale.seller_id == "SELLER2", (oauth.reads, older_than)
    assert (await load_tenant_credentials(oauth, tenant_id)).seller_id == "SELLER2"  # fresh
    assert oauth.reads == 3
    await delete_tenant_credentials(elsewhere, tenant_id)
    for client in (oauth, elsewhere):
        await client.aclose()


async def test_store_and_delete_through_the_module_are_seen_at_once(stack, tenant_id):
    oauth = CountingVault(stack.vault_addr, token=service_token_id("oauth"))
    await store_tenant_credentials(oauth, _credentials(tenant_id, "SELLER1"))
    assert (await check_tenant_credentials(oauth, tenant_id)).seller_id == "SELLER1"

    await store_tenant_credentials(oauth, _credentials(tenant_id, "SELLER2"))  # reconnect
    assert (await check_tenant_credentials(oauth, tenant_id)).seller_id == "SELLER2"

    await delete_tenant_credentials(oauth, tenant_id)  # disconnect
    with pytest.raises(CredentialsMissing):
        await check_tenant_credentials(oauth, tenant_id)
    assert await oauth.read(tenant_credentials_path(tenant_id)) is None
    await oauth.aclose()


async def test_a_client_never_gets_what_another_client_cached(stack, tenant_id):
    """tenant-sync's policy has no access to tenant credentials, cached or not."""
    oauth = VaultClient(stack.vault_addr, token=service_token_id("oauth"))
    tenant_sync = VaultClient(stack.vault_addr, token=service_token_id("tenant-sync"))
    await store_tenant_credentials(oauth, _credentials(tenant_id, "SELLER1"))
    assert (await check_tenant_credentials(oauth, tenant_id)).seller_id == "SELLER1"
    with pytest.raises(VaultError, match="Forbidden"):
        await check_tenant_credentials(tenant_sync, tenant_id)
    await delete_tenant_credentials(oauth, tenant_id)
    for client in (oauth, tenant_sync):
        await client.aclose()


async def test_a_missing_credential_is_not_cached(stack, tenant_id):
    oauth = VaultClient(stack.vault_addr, token=service_token_id("oauth"))
    elsewhere = VaultClient(stack.vault_addr, token=DEV_VAULT_ROOT_TOKEN)
    with pytest.raises(CredentialsMissing):
        await check_tenant_credentials(oauth, tenant_id)
    await store_tenant_credentials(elsewhere, _credentials(tenant_id, "SELLER1"))
    assert (await check_tenant_credentials(oauth, tenant_id)).seller_id == "SELLER1"
    await delete_tenant_credentials(elsewhere, tenant_id)
    for client in (oauth, elsewhere):
        await client.aclose()


async def test_loading_for_use_always_reads_vault(stack, tenant_id):
    """The token service is about to send the refresh token to LWA: never an old copy."""
    orders = CountingVault(stack.vault_addr, token=service_token_id("orders"))
    oauth = VaultClient(stack.vault_addr, token=service_token_id("oauth"))
    await store_tenant_credentials(oauth, _credentials(tenant_id, "SELLER1"))
    first = await load_tenant_credentials(orders, tenant_id)
    replaced = _credentials(tenant_id, "SELLER1")  # the seller consented again
    await store_tenant_credentials(oauth, replaced)
    second = await load_tenant_credentials(orders, tenant_id)
    assert second.fingerprint == replaced.fingerprint != first.fingerprint
    assert orders.reads == 2
    await delete_tenant_credentials(oauth, tenant_id)
    for client in (oauth, orders):
        await client.aclose()
