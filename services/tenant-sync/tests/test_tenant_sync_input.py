"""Hostile input over HTTP and NATS: a clear refusal, never a 500, never a stored row."""

from __future__ import annotations

import json

import pytest
from keybuzz_shared.messaging import REASON_HEADER
from tenant_sync_support import INTERNAL, publish, tenant_id

SYNC = "/api/v1/tenants/sync"
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "payload, fragment",
    [
        (b"[" * 100_000, "nested deeper than"),
        (b'{"tenantId":' * 50_000 + b'"a"' + b"}" * 50_000, "nested deeper than"),
        (b'{"tenantId": "kbz-001\xff"}', "not valid UTF-8"),
        (b'{"tenantId": "kbz-001", "note": "a\\u0000b"}', "NUL"),
        (b'{"tenantId": "kbz-001", "a\\u0000": 1}', "NUL"),
        (b'{"tenantId": "kbz-001\\n"}', "Validation failed"),
        (b'{"tenantId": "kbz-001", "country": "FR\\n"}', "Validation failed"),
    ],
    ids=[
        "deep-array",
        "deep-object",
        "bad-utf8",
        "nul-value",
        "nul-key",
        "id-newline",
        "cc-newline",
    ],
)
async def test_hostile_bodies_get_a_400_json_error(service, payload, fragment):
    async with service.client(headers=INTERNAL) as http:
        response = await http.post(SYNC, content=payload, headers=JSON)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request"
    assert fragment in response.json()["message"]
    # Nothing was synced: the tenant named in the refused bodies is still unknown here.
    # (Only that tenant: the service also consumes what other tests left on the session's
    # NATS, under parallel workers in another order.)
    named = await service.runtime.pool.fetchval(
        "SELECT count(*) FROM tenants WHERE id = ANY($1::text[])", ["kbz-001", "a"]
    )
    assert named == 0


async def test_a_good_body_still_syncs(service):
    """The checks above refuse the bad bodies only (a plain sync is unaffected)."""
    async with service.client(headers=INTERNAL) as http:
        response = await http.post(SYNC, content=b'{"tenantId": "kbz-001"}', headers=JSON)
    assert response.status_code == 200, response.text
    assert await service.runtime.pool.fetchval("SELECT id FROM tenants") == "kbz-001"


async def test_tenant_id_with_trailing_newline_in_the_path_is_refused(service):
    async with service.client(headers=INTERNAL) as http:
        response = await http.get("/api/v1/tenants/status/kbz-001%0A")
    assert response.status_code == 400
    assert response.json()["message"] == "invalid tenant id 'kbz-001\\n'"


async def test_tenant_id_with_trailing_newline_in_an_event_is_dead_lettered(service, js, watch):
    dead = await watch("deadletter.tenant-sync.>")
    tenant = tenant_id("nl")
    body = {"tenantId": tenant + "\n", "name": "Shop", "plan": "pro", "status": "active"}
    await publish(js, "tenant.created", body)
    parked = await dead.next(lambda m: tenant.encode() in m.data)
    assert json.loads(parked.data)["tenantId"] == tenant + "\n"
    assert "tenantId" in parked.headers[REASON_HEADER]
    rows = await service.runtime.pool.fetchval(
        "SELECT count(*) FROM tenants WHERE id LIKE $1", tenant + "%"
    )
    assert rows == 0
