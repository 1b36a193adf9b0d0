"""Isolation between tenants, secrets kept out of logs and the database, Vault failures."""

from __future__ import annotations

import logging

import hvac
from keybuzz_devstack import bootstrap, infra
from keybuzz_oauth.app import CALLBACK_PATH
from keybuzz_shared.logs import JsonFormatter
from oauth_testkit import (
    SPAPI_CALLER,
    callback_query,
    database_dump,
    frontend_result,
    new_tenant,
    read_secret,
    tenant_path,
    token_service,
)


async def test_user_cannot_reach_another_tenants_connection(kit):
    tenant_a, tenant_b = new_tenant(), new_tenant()
    await kit.connect(tenant_b)
    as_a = kit.headers(tenant_a)  # a token listing tenant A only
    for method, path in (
        ("POST", "/oauth/start"),
        ("GET", "/status"),
        ("DELETE", "/connection"),
    ):
        response = await kit.api(method, path, tenant_b, headers={**as_a, "X-Tenant-Id": tenant_b})
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"] == "forbidden"
    assert (await kit.status(tenant_b))["status"] == "CONNECTED"
    assert read_secret(kit.stack, tenant_path(tenant_b)) is not None
    # A's own status says nothing of B's connection.
    assert (await kit.status(tenant_a))["status"] == "NOT_CONNECTED"
    no_token = await kit.api("GET", "/status", tenant_a, headers={"Authorization": ""})
    assert no_token.status_code == 401


async def test_no_token_in_logs_or_database_after_the_whole_flow(kit, start_service, caplog):
    caplog.set_level(logging.DEBUG)
    # Other tests' uvicorn servers (log_level="warning") may have raised this logger's level.
    caplog.set_level(logging.DEBUG, logger="uvicorn.access")
    tenant = new_tenant()
    started = await kit.start(tenant)
    callback_url = await kit.consent(started["authUrl"])
    assert frontend_result(await kit.follow(callback_url))["status"] == "connected"
    caller = await start_service(SPAPI_CALLER)
    tokens = token_service(caller.runtime, kit)
    access = (await tokens.access_token(tenant)).value
    await tokens.aclose()
    assert (await kit.status(tenant))["status"] == "CONNECTED"
    refresh = read_secret(kit.stack, tenant_path(tenant))["refresh_token"]
    code = callback_query(callback_url)["spapi_oauth_code"]

    secrets = {"refresh token": refresh, "access token": access}
    formatter = JsonFormatter("test")
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    for record in caplog.records:
        raw = f"{record.getMessage()} {record.__dict__}"
        for name, value in secrets.items():
            assert value not in raw, f"{name} in log record {record.name}"
            assert value not in formatter.format(record), f"{name} in emitted log line"
    for record in ours:  # the test's own browser legitimately logs the URLs it follows
        raw = f"{record.getMessage()} {record.__dict__}"
        assert code not in raw and started["state"] not in raw, record.name
    assert any(r.name == "uvicorn.access" and CALLBACK_PATH in r.getMessage() for r in ours)

    dump = await database_dump(kit.runtime.pool)
    for value in (refresh, access, code, started["state"]):
        assert value not in dump
    assert "Atz" not in dump and tenant_path(tenant) in dump


async def test_vault_write_refused_leaves_nothing_connected(make_kit):
    """oauth running with a token that may only read (orders' policy): the write fails."""
    kit = await make_kit(VAULT_TOKEN=bootstrap.service_token_id("orders"))
    tenant = new_tenant()
    answer = await kit.connect(tenant)
    assert frontend_result(answer) == {"status": "error", "reason": "vault_unavailable"}
    status = await kit.status(tenant)
    assert status["status"] == "ERROR" and "retry" in status["lastError"]
    assert read_secret(kit.stack, tenant_path(tenant)) is None
    assert await kit.runtime.pool.fetchval("SELECT count(*) FROM event_outbox") == 0


async def test_vault_down_during_callback_leaves_nothing_connected(make_kit, infra_root):
    vault = infra.RunningServer(
        infra.openbao_spec(infra.free_port()), infra_root / "private-openbao.log"
    ).start(timeout=30)
    try:
        bootstrap.seed_vault(vault.spec.url, infra.DEV_VAULT_ROOT_TOKEN)
        kit = await make_kit(VAULT_ADDR=vault.spec.url)
        tenant = new_tenant()
        started = await kit.start(tenant)
        callback_url = await kit.consent(started["authUrl"])
        vault.stop()

        answer = await kit.follow(callback_url, accept="application/json")
        assert answer.status_code == 503
        assert answer.json()["reason"] == "vault_unavailable"
        assert "retry" in answer.json()["message"]
        row = await kit.row(tenant)
        assert row["status"] == "ERROR" and row["vault_path"] is None
        assert await kit.runtime.pool.fetchval("SELECT count(*) FROM event_outbox") == 0
        async with kit.service.client() as http:
            ready = await http.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["vault"] is False
    finally:
        vault.stop()


async def test_policies_give_each_service_only_what_it_needs(kit, stack):
    await kit.connect(tenant := new_tenant())
    path = f"keybuzz/tenants/{tenant}/amazon_spapi"

    def client(service: str) -> hvac.Client:
        return hvac.Client(url=stack.vault_addr, token=bootstrap.service_token_id(service))

    def can(service: str, action: str) -> bool:
        kv = client(service).secrets.kv.v2
        calls = {
            "read": lambda: kv.read_secret_version(
                path=path, mount_point="secret", raise_on_deleted_version=True
            ),
            "write": lambda: kv.create_or_update_secret(
                path=f"keybuzz/tenants/probe-{service}/amazon_spapi",
                secret={"x": "1"},
                mount_point="secret",
            ),
            "app": lambda: kv.read_secret_version(
                path="keybuzz/amazon_spapi/app", mount_point="secret", raise_on_deleted_version=True
            ),
        }
        try:
            calls[action]()
        except hvac.exceptions.Forbidden:
            return False
        return True

    assert [can("oauth", a) for a in ("read", "write", "app")] == [True, True, True]
    for reader in ("orders", "poller"):
        assert [can(reader, a) for a in ("read", "write", "app")] == [True, False, True]
    assert [can("tenant-sync", a) for a in ("read", "write", "app")] == [False, False, False]


async def test_a_new_marketplaces_credentials_get_the_same_rights_without_a_policy_edit(stack):
    """The policies are patterns over the tenants' credential paths, not a list of marketplaces:
    a path no connector uses yet is written by oauth only, read by orders and the poller, and
    nothing at all for tenant-sync."""
    tenant = new_tenant()
    path = f"keybuzz/tenants/{tenant}/newmarket_api"
    root = hvac.Client(url=stack.vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
    root.secrets.kv.v2.create_or_update_secret(path=path, secret={"k": "v"}, mount_point="secret")

    def can(service: str, action: str) -> bool:
        kv = hvac.Client(url=stack.vault_addr, token=bootstrap.service_token_id(service)).secrets
        calls = {
            "read": lambda: kv.kv.v2.read_secret_version(
                path=path, mount_point="secret", raise_on_deleted_version=True
            ),
            "write": lambda: kv.kv.v2.create_or_update_secret(
                path=f"keybuzz/tenants/probe-{service}/newmarket_api",
                secret={"x": "1"},
                mount_point="secret",
            ),
            "delete": lambda: kv.kv.v2.delete_metadata_and_all_versions(
                path=f"keybuzz/tenants/probe-{service}/newmarket_api", mount_point="secret"
            ),
        }
        try:
            calls[action]()
        except hvac.exceptions.Forbidden:
            return False
        return True

    actions = ("read", "write", "delete")
    assert [can("oauth", a) for a in actions] == [True, True, True]
    for reader in ("orders", "poller"):
        assert [can(reader, a) for a in actions] == [True, False, False]
    assert [can("tenant-sync", a) for a in actions] == [False, False, False]


async def test_disconnect_refused_by_vault_changes_nothing(make_kit):
    """orders' read-only token: Vault refuses the delete, so the row stays as it was (503)."""
    kit = await make_kit(VAULT_TOKEN=bootstrap.service_token_id("orders"))
    tenant = new_tenant()
    await kit.start(tenant)
    response = await kit.api("DELETE", "/connection", tenant)
    assert response.status_code == 503 and response.json()["error"] == "unavailable"
    assert "nothing was changed" in response.json()["message"]
    assert (await kit.row(tenant))["status"] == "PENDING"
    assert await kit.runtime.pool.fetchval("SELECT count(*) FROM event_outbox") == 0
