"""A tenant's response window per marketplace on a real poller: the endpoint's checks,
the stored setting, Amazon's rule refused, and the stored deadline of a ticket of that
marketplace moved by it (the report too)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import test_response_alerts
from keybuzz_devstack.testing import RunningService
from mailkit import get_json, headers

alerting_poller = test_response_alerts.alerting_poller
poller = test_response_alerts.poller
PATH = "/api/v1/poller/response-deadlines"


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def put(poller: RunningService, tenant_id: str, body: Any) -> Any:
    async with poller.client() as http:
        return await http.put(PATH, json=body, headers=headers(poller, tenant_id))


async def test_the_tenants_window_moves_its_tickets_deadlines(poller: RunningService) -> None:
    tenant_id, ticket = await test_response_alerts.waiting_ticket(poller)
    amazon_respond_by = at(ticket["respondBy"])
    # Tickets all come from Amazon's relay today: this one is made another marketplace's.
    await poller.runtime.pool.execute(
        "UPDATE poller_tickets SET marketplace = 'FNAC' WHERE id = $1", ticket["id"]
    )
    # Every marketplace with a rule of its own (Mirakl's operators too): Amazon's 24 h.
    listed = await get_json(poller, tenant_id, PATH)
    assert listed["fixed"]["AMAZON"] == 24 and "FNAC" not in listed["fixed"]
    assert (listed["defaultHours"], listed["windows"]) == (24, [])

    saved = await put(poller, tenant_id, {"marketplace": "FNAC", "hours": 48})
    assert saved.status_code == 200, saved.text
    assert saved.json()["windows"] == [{"marketplace": "FNAC", "hours": 48}]
    assert (await get_json(poller, tenant_id, PATH))["windows"] == saved.json()["windows"]
    moved = await get_json(poller, tenant_id, f"/api/v1/tickets/{ticket['id']}")
    assert at(moved["respondBy"]) == amazon_respond_by + timedelta(hours=24)
    stored = await poller.runtime.pool.fetchval(
        "SELECT respond_by FROM poller_tickets WHERE id = $1", ticket["id"]
    )
    assert stored == amazon_respond_by + timedelta(hours=24)

    # Past the default 24 hours, within the tenant's 48: the report counts it not late yet.
    test_response_alerts.fix_clock(poller, amazon_respond_by + timedelta(hours=1))
    report = await get_json(poller, tenant_id, "/api/v1/response-times", marketplace="FNAC", days=7)
    assert (report["received"], report["late"]) == (1, 0), report
    other_tenant, _ = await test_response_alerts.waiting_ticket(poller)
    assert (await get_json(poller, other_tenant, PATH))["windows"] == []


async def test_amazons_rule_and_bad_windows_are_refused(poller: RunningService) -> None:
    tenant_id, ticket = await test_response_alerts.waiting_ticket(poller)
    refused = await put(poller, tenant_id, {"marketplace": "AMAZON", "hours": 48})
    assert refused.status_code == 409, refused.text
    assert "AMAZON measures response times by its own rule" in refused.json()["message"]
    for bad in (
        {"marketplace": "FNAC", "hours": 0},
        {"marketplace": "FNAC", "hours": 721},
        {"marketplace": "fnac", "hours": 48},
        {"marketplace": "FNAC"},
        [],
    ):
        response = await put(poller, tenant_id, bad)
        assert response.status_code == 400, (bad, response.text)
        assert response.headers["content-type"].startswith("application/json")
    assert (await get_json(poller, tenant_id, PATH))["windows"] == []
    rows = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_response_windows WHERE tenant_id = $1", tenant_id
    )
    assert rows == 0
    unchanged = await get_json(poller, tenant_id, f"/api/v1/tickets/{ticket['id']}")
    assert unchanged["respondBy"] == ticket["respondBy"]
