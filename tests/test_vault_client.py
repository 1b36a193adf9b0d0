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


async def test_cached_reads_are_bounded_in_time_and_size_and_dropped_on_change(stack):
    """A shop's key read ``cached`` is Vault's as it was at most ``cache_seconds`` ago, at
    most ``cache_size`` keys kept; another writer's change is seen once the entry is
    forgotten (a reconnect, a refusal) or expired, a deletion likewise."""
    now = [0.0]
    oauth = VaultClient(stack.vault_addr, token=service_token_id("oauth"))
    poller = VaultClient(
        stack.vault_addr,
        token=service_token_id("poller"),
        clock=lambda: now[0],
        cache_seconds=60,
        cache_size=2,
    )
    paths = [tenant_credentials_path(f"t-{uuid.uuid4().hex[:8]}") for _ in range(3)]
    for n, path in enumerate(paths):
        await oauth.write(path, {"refresh_token": f"Atzr|first-{n}"})
    first = paths[0]
    assert await poller.read(first, cached=True) == {"refresh_token": "Atzr|first-0"}
    await oauth.write(first, {"refresh_token": "Atzr|rotated"})
    assert await poller.read(first, cached=True) == {"refresh_token": "Atzr|first-0"}  # kept
    assert await poller.read(first) == {"refresh_token": "Atzr|rotated"}  # uncached: Vault's
    poller.forget(first)  # a reconnect: the new key at the next read
    assert await poller.read(first, cached=True) == {"refresh_token": "Atzr|rotated"}
    await oauth.write(first, {"refresh_token": "Atzr|again"})
    now[0] = 60.0  # expired
    assert await poller.read(first, cached=True) == {"refresh_token": "Atzr|again"}
    await oauth.delete(first)
    poller.forget(first)  # revoked and refused: never used again
    assert await poller.read(first, cached=True) is None
    # Size: two kept; a third read drops the least recently read.
    for path in paths[1:]:
        assert await poller.read(path, cached=True) is not None
    await oauth.write(paths[1], {"refresh_token": "Atzr|changed-1"})
    await oauth.write(paths[2], {"refresh_token": "Atzr|changed-2"})
    await oauth.write(first, {"refresh_token": "Atzr|back"})
    assert await poller.read(first, cached=True) == {"refresh_token": "Atzr|back"}  # drops 1
    assert await poller.read(paths[2], cached=True) == {"refresh_token": "Atzr|first-2"}
    assert await poller.read(paths[1], cached=True) == {"refresh_token": "Atzr|changed-1"}


async def test_reads_are_not_cached_unless_the_client_is_told_to(stack):
    oauth = VaultClient(stack.vault_addr, token=service_token_id("oauth"))
    path = tenant_credentials_path(f"t-{uuid.uuid4().hex[:8]}")
    await oauth.write(path, {"refresh_token": "Atzr|one"})
    assert await oauth.read(path, cached=True) == {"refresh_token": "Atzr|one"}
    await VaultClient(stack.vault_addr, token=service_token_id("oauth")).write(
        path, {"refresh_token": "Atzr|two"}
    )
    assert await oauth.read(path, cached=True) == {"refresh_token": "Atzr|two"}
