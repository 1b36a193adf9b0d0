"""Vault KV v2 round trip against real OpenBao, with the per-service policies."""

import uuid

import pytest
from keybuzz_connector_amazon.credentials import tenant_credentials_path
from keybuzz_devstack.bootstrap import service_token_id
from keybuzz_shared.errors import is_outage
from keybuzz_shared.vault import VaultClient, VaultError, VaultUnavailable


async def test_write_read_delete_round_trip(stack):
    oauth = VaultClient(stack.vault_addr, token=service_token_id("oauth"))
    path = tenant_credentials_path(f"t-{uuid.uuid4().hex[:8]}")
    data = {"refresh_token": "Atzr|round-trip", "seller_id": "A12BCIS2R7HD4D"}
    assert await oauth.read(path) is None
    await oauth.write(path, data)
    assert await oauth.read(path) == data
    await oauth.delete(path)
    assert await oauth.read(path) is None


async def test_policies_limit_each_service(stack):
    path = tenant_credentials_path(f"t-{uuid.uuid4().hex[:8]}")
    await VaultClient(stack.vault_addr, token=service_token_id("oauth")).write(path, {"a": "b"})
    orders = VaultClient(stack.vault_addr, token=service_token_id("orders"))
    assert await orders.read(path) == {"a": "b"}
    with pytest.raises(VaultError, match="Forbidden"):
        await orders.write(path, {"a": "c"})
    with pytest.raises(VaultError, match="Forbidden"):
        await VaultClient(stack.vault_addr, token=service_token_id("tenant-sync")).read(path)


async def test_errors_never_carry_the_secret(stack):
    orders = VaultClient(stack.vault_addr, token=service_token_id("orders"))
    with pytest.raises(VaultError) as info:
        await orders.write(tenant_credentials_path("x"), {"refresh_token": "Atzr|do-not-leak"})
    assert "do-not-leak" not in str(info.value)


async def test_readiness_and_unreachable_vault(stack):
    assert await VaultClient(stack.vault_addr, token=service_token_id("poller")).is_ready()
    assert not await VaultClient(stack.vault_addr, token="not-a-token").is_ready()
    down = VaultClient("http://127.0.0.1:9", token="x", timeout=1)
    assert not await down.is_ready()
    with pytest.raises(VaultUnavailable) as info:
        await down.read("secret/keybuzz/x")
    assert is_outage(info.value)  # a consumer holds its event instead of dead-lettering it


def test_an_unreadable_cacert_is_named_at_start(tmp_path):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    for cacert in (str(tmp_path / "missing.pem"), str(not_pem)):
        with pytest.raises(ValueError, match="VAULT_CACERT"):
            VaultClient("https://127.0.0.1:8200", token="x", cacert=cacert)
