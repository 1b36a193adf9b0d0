"""The poller's settings bodies on a real poller: a number is a JSON number (an integer
where the setting is whole hours or minutes), a marketplace is one the registry knows,
an unknown field is refused; each refusal is a 400 naming the field, and nothing is stored."""

from __future__ import annotations

from typing import Any

import test_response_alerts
from keybuzz_devstack.testing import RunningService
from mailkit import get_json, headers, new_tenant

alerting_poller = test_response_alerts.alerting_poller
poller = test_response_alerts.poller
WINDOWS = "/api/v1/poller/response-deadlines"
ALERTS = "/api/v1/poller/response-alerts"
SETTINGS = "/api/v1/poller/settings"


async def put(poller: RunningService, tenant_id: str, path: str, body: Any) -> Any:
    async with poller.client() as http:
        return await http.put(path, json=body, headers=headers(poller, tenant_id))


async def refused(
    poller: RunningService, tenant_id: str, path: str, body: Any, naming: str
) -> dict[str, Any]:
    answer = await put(poller, tenant_id, path, body)
    assert answer.status_code == 400, (body, answer.text)
    error = dict(answer.json())
    # Named in the message or in Litestar's validation details.
    assert naming in error["message"] or naming in str(error["details"]), (body, error)
    return error


async def stored_windows(poller: RunningService, tenant_id: str) -> int:
    return int(
        await poller.runtime.pool.fetchval(
            "SELECT count(*) FROM poller_response_windows WHERE tenant_id = $1", tenant_id
        )
    )


async def test_hours_and_minutes_are_json_integers(poller: RunningService) -> None:
    tenant_id, _ = new_tenant()
    for hours in ("24", 24.0, "48"):
        error = await refused(
            poller, tenant_id, WINDOWS, {"marketplace": "FNAC", "hours": hours}, "hours"
        )
        assert error["details"] == [
            {"message": error["details"][0]["message"], "key": "hours", "source": "body"}
        ]
    for minutes in ("120", 30.0):
        await refused(poller, tenant_id, ALERTS, {"leadMinutes": minutes}, "leadMinutes")
    assert await stored_windows(poller, tenant_id) == 0
    assert (await get_json(poller, tenant_id, ALERTS)) == {"leadMinutes": 120}

    accepted = await put(poller, tenant_id, WINDOWS, {"marketplace": "FNAC", "hours": 24})
    assert accepted.status_code == 200, accepted.text
    assert (await put(poller, tenant_id, ALERTS, {"leadMinutes": 30})).json() == {"leadMinutes": 30}


async def test_only_the_registrys_marketplaces_take_a_window(poller: RunningService) -> None:
    tenant_id, _ = new_tenant()
    for invented in ("ZALANDO", "BOL", "A" * 32, "FNAC_X"):
        error = await refused(
            poller, tenant_id, WINDOWS, {"marketplace": invented, "hours": 48}, "FNAC, DARTY"
        )
        assert invented not in error["message"]
    assert await stored_windows(poller, tenant_id) == 0
    for known in ("FNAC", "DARTY"):
        saved = await put(poller, tenant_id, WINDOWS, {"marketplace": known, "hours": 48})
        assert saved.status_code == 200, saved.text
    windows = (await get_json(poller, tenant_id, WINDOWS))["windows"]
    assert sorted(w["marketplace"] for w in windows) == ["DARTY", "FNAC"]


async def test_unknown_fields_are_refused(poller: RunningService) -> None:
    tenant_id, _ = new_tenant()
    await refused(
        poller, tenant_id, WINDOWS, {"marketplace": "FNAC", "hours": 48, "minutes": 5}, "minutes"
    )
    await refused(poller, tenant_id, ALERTS, {"leadMinutes": 30, "leadHours": 1}, "leadHours")
    await refused(
        poller, tenant_id, SETTINGS, {"replyFromAddress": None, "replyTo": "x@y.fr"}, "replyTo"
    )
    assert await stored_windows(poller, tenant_id) == 0
    assert (await get_json(poller, tenant_id, ALERTS)) == {"leadMinutes": 120}
