"""HTTP endpoints (seed 004 shapes), internal-key enforcement and NATS operator actions."""

from __future__ import annotations

import json
import re

import asyncpg
import pytest
from keybuzz_shared.settings import SettingsError, load_settings
from keybuzz_tenant_sync.service import DEFINITION
from keybuzz_tenant_sync.settings import TenantSyncSettings
from tenant_sync_support import INTERNAL

# Seed 004, "Avant Sync": the marketplace side already has four of the six product tenants.
MARKETPLACE_BEFORE = [
    ("ecomlg-001", "eComLG", "PRO", "ACTIVE"),
    ("kbz-001", "KeyBuzz Demo 1", "STARTER", "ACTIVE"),
    ("kbz-002", "KeyBuzz Demo 2", "PRO", "ACTIVE"),
    ("tenant_test_dev", "Tenant Test Dev", "FREE", "TRIAL"),
]
ADDRESS = re.compile(r"^amazon\.ecomlg-001\.fr\.[a-z2-7]{16}@inbound\.keybuzz\.test$")


async def seed_marketplace(service) -> None:
    await service.runtime.pool.executemany(
        "INSERT INTO tenants (id, name, plan, status) VALUES ($1, $2, $3, $4)", MARKETPLACE_BEFORE
    )


async def test_sync_all_matches_seed_004(service, product_url, watch):
    await seed_marketplace(service)
    synced = await watch("tenant.synced")
    async with service.client(headers=INTERNAL) as http:
        first = await http.post("/api/v1/tenants/sync-all")
        assert first.status_code == 200, first.text
        assert first.json() == {
            "success": True,
            "total": 6,
            "results": {
                "created": ["kbz-003", "kbz-004"],
                "updated": [],
                "skipped": ["ecomlg-001", "kbz-001", "kbz-002", "tenant_test_dev"],
                "errors": [],
            },
        }
        rows = await service.runtime.pool.fetch(
            "SELECT id, name, plan, status FROM tenants ORDER BY id"
        )
        assert [tuple(r) for r in rows] == sorted(
            [
                *MARKETPLACE_BEFORE,
                ("kbz-003", "KeyBuzz Demo 3", "PRO", "ACTIVE"),
                ("kbz-004", "KeyBuzz Demo 4", "ENTERPRISE", "ACTIVE"),
            ]
        )
        assert (await synced.for_tenant("kbz-003"))["plan"] == "PRO"

        product = await asyncpg.connect(product_url)
        try:
            await product.execute("UPDATE tenants SET plan = 'enterprise' WHERE id = 'kbz-001'")
            await product.execute("UPDATE tenants SET status = 'archived' WHERE id = 'kbz-002'")
            await product.execute(
                "INSERT INTO tenants (id, name, plan, status) "
                "VALUES ('kbz-gold', 'Gold', 'gold', 'active')"
            )
        finally:
            await product.close()
        second = (await http.post("/api/v1/tenants/sync-all")).json()

    assert second["success"] is False and second["total"] == 7
    assert second["results"]["created"] == [] and second["results"]["updated"] == [
        "kbz-001",
        "kbz-002",
    ]
    assert len(second["results"]["skipped"]) == 4
    assert second["results"]["errors"] == [
        {
            "tenantId": "kbz-gold",
            "error": "unknown plan 'gold' (expected one of free, starter, pro, enterprise)",
        }
    ]
    assert (await synced.for_tenant("kbz-002"))["status"] == "ARCHIVED"


async def test_sync_one_tenant_with_inbound_address(service, watch):
    await seed_marketplace(service)
    synced = await watch("tenant.synced")
    request = {"tenantId": "ecomlg-001", "createInboundAddress": True, "country": "FR"}
    async with service.client(headers=INTERNAL) as http:
        response = await http.post("/api/v1/tenants/sync", json=request)
        again = await http.post("/api/v1/tenants/sync", json=request)
        germany = await http.post("/api/v1/tenants/sync", json={**request, "country": "de"})
        new = await http.post("/api/v1/tenants/sync", json={"tenantId": "kbz-003"})

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] is True and answer["result"] == "skipped"
    assert answer["tenant"] == {
        "id": "ecomlg-001",
        "name": "eComLG",
        "plan": "PRO",
        "status": "ACTIVE",
    }
    assert ADDRESS.match(answer["inboundAddress"])
    assert again.json()["inboundAddress"] == answer["inboundAddress"]  # stable across re-syncs
    assert germany.json()["inboundAddress"].startswith("amazon.ecomlg-001.de.")
    assert [a["country"] for a in germany.json()["inboundAddresses"]] == ["DE", "FR"]
    assert new.json()["result"] == "created" and new.json()["inboundAddress"] is None
    event = await synced.for_tenant("ecomlg-001")
    assert event["inboundAddresses"][0]["email"] == answer["inboundAddress"]

    # One address per (tenant, marketplace, country), whatever the token.
    with pytest.raises(asyncpg.UniqueViolationError):
        await service.runtime.pool.execute(
            "INSERT INTO inbound_addresses "
            "(connection_id, tenant_id, marketplace, country, token, email) "
            "SELECT connection_id, tenant_id, marketplace, country, 'othertoken', 'other@x.test' "
            "FROM inbound_addresses WHERE email = $1",
            answer["inboundAddress"],
        )


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[]",
        b"{}",
        json.dumps({"tenantId": "../etc"}).encode(),
        json.dumps({"tenantId": "kbz-001", "createInboundAddress": "yes"}).encode(),
        json.dumps({"tenantId": "kbz-001", "country": "France"}).encode(),
    ],
    ids=["not-json", "array", "no-tenant", "bad-id", "bad-flag", "bad-country"],
)
async def test_bad_sync_bodies_get_400(service, payload):
    async with service.client(headers=INTERNAL) as http:
        response = await http.post(
            "/api/v1/tenants/sync", content=payload, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request"


async def test_unknown_tenant_gets_404(service):
    async with service.client(headers=INTERNAL) as http:
        response = await http.post("/api/v1/tenants/sync", json={"tenantId": "kbz-999"})
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "tenant 'kbz-999' does not exist in the product database",
    }


async def test_product_database_without_tenants_table_gets_503(start_service):
    service = await start_service(DEFINITION)  # a fresh, empty product database
    async with service.client(headers=INTERNAL) as http:
        response = await http.post("/api/v1/tenants/sync-all")
    assert response.status_code == 503
    assert 'relation "tenants" does not exist' in response.json()["message"]


async def test_status_compares_product_and_marketplace(service):
    await seed_marketplace(service)
    async with service.client(headers=INTERNAL) as http:
        await http.post(
            "/api/v1/tenants/sync",
            json={"tenantId": "ecomlg-001", "createInboundAddress": True, "country": "FR"},
        )
        status = (await http.get("/api/v1/tenants/status/ecomlg-001")).json()
        only_product = (await http.get("/api/v1/tenants/status/kbz-003")).json()
        nowhere = (await http.get("/api/v1/tenants/status/kbz-999")).json()
        invalid = await http.get("/api/v1/tenants/status/bad%20id")

    assert status == {
        "tenantId": "ecomlg-001",
        "product": {"exists": True, "name": "eComLG", "plan": "pro", "status": "active"},
        "marketplace": {"exists": True, "name": "eComLG", "plan": "PRO", "status": "ACTIVE"},
        "inSync": True,
        "inboundAddresses": [
            {
                "marketplace": "AMAZON",
                "country": "FR",
                "email": status["inboundAddresses"][0]["email"],
                "status": "PENDING",
                "receiving": False,  # no poller here: its MX never said it takes it
            }
        ],
        "marketplaceConnections": [],
    }
    assert ADDRESS.match(status["inboundAddresses"][0]["email"])
    assert only_product["inSync"] is False and only_product["marketplace"] == {
        "exists": False,
        "name": None,
        "plan": None,
        "status": None,
    }
    assert nowhere["product"]["exists"] is False and nowhere["inSync"] is False
    assert invalid.status_code == 400


async def test_internal_key_is_required(service):
    calls = [
        ("POST", "/api/v1/tenants/sync", {"tenantId": "kbz-001"}),
        ("POST", "/api/v1/tenants/sync-all", None),
        ("GET", "/api/v1/tenants/status/kbz-001", None),
    ]
    async with service.client() as http:
        for method, path, payload in calls:
            missing = await http.request(method, path, json=payload)
            wrong = await http.request(
                method, path, json=payload, headers={"X-Internal-Key": "nope"}
            )
            right = await http.request(method, path, json=payload, headers=INTERNAL)
            assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200), (
                path
            )
            assert missing.json()["message"] == "missing or wrong X-Internal-Key"


async def test_dev_mode_waives_the_key_but_not_in_production(start_service, product_url):
    dev = await start_service(DEFINITION, PRODUCT_DATABASE_URL=product_url, KEYBUZZ_DEV_MODE="true")
    async with dev.client() as http:
        assert (await http.get("/api/v1/tenants/status/kbz-001")).status_code == 200
    with pytest.raises(SettingsError, match="KEYBUZZ_DEV_MODE=true is refused"):
        load_settings(
            TenantSyncSettings,
            {
                "KEYBUZZ_ENV": "production",
                "KEYBUZZ_DEV_MODE": "true",
                "INTERNAL_API_KEY": "k",
                "JWT_SECRET": "s",
                "VAULT_TOKEN": "t",
            },
        )


async def test_operator_actions_over_nats(service):
    await seed_marketplace(service)
    nc = await service.operator()
    all_reply = await nc.request("keybuzz.tenant-sync.sync-all", b"{}", timeout=10)
    one_reply = await nc.request(
        "keybuzz.tenant-sync.sync-tenant",
        json.dumps({"tenantId": "kbz-003", "createInboundAddress": True}).encode(),
        timeout=10,
    )
    status_reply = await nc.request(
        "keybuzz.tenant-sync.status", b'{"tenantId": "kbz-003"}', timeout=10
    )
    missing = await nc.request(
        "keybuzz.tenant-sync.sync-tenant", b'{"tenantId": "kbz-999"}', timeout=10
    )

    assert json.loads(all_reply.data)["results"]["created"] == ["kbz-003", "kbz-004"]
    # kbz-003's product country is DE: the default for its address.
    assert json.loads(one_reply.data)["inboundAddress"].startswith("amazon.kbz-003.de.")
    assert json.loads(status_reply.data)["inSync"] is True
    assert missing.headers["Nats-Service-Error-Code"] == "404"
    assert "does not exist in the product database" in missing.headers["Nats-Service-Error"]
