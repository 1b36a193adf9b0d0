"""A Mirakl operator's deadlines and figure on the real servers: the poller against the
sandbox's Mirakl double over HTTP. A ticket's deadline runs on Mirakl's own clock of its
thread (M11's ``shop_reply_needed_since``) for the operator's hours, and ends when the
operator's staff say no reply is needed; the response-time report shows A21's
``order_messages_response_delay`` beside ours."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from keybuzz_devstack.testing import RunningService
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.vault import VaultClient
from mirakl_connector_helpers import admin, operators
from test_mirakl_polling import (
    connect,
    double,
    get_json,
    poll,
    poller,
    shop_path,
    ticket_holding,
    vault,
)

__all__ = ["double", "poller", "vault"]  # fixtures of test_mirakl_polling.py used here

CODE = "BOULANGER"


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_threads_deadline_runs_on_mirakls_clock_and_the_report_shows_a21(
    poller: RunningService, vault: VaultClient, double: str
) -> None:
    rule = connector_for(CODE).response_window
    assert rule is not None and rule.rule.marketplace_clock and rule.rule.tenant_may_shorten
    spec = (await operators(double))[CODE]["shops"][0]
    shop = await connect(poller, vault, f"t{uuid.uuid4().hex[:10]}", CODE, spec)
    await poll(poller, shop)  # the shop's history
    opened = await admin(
        double,
        "POST",
        f"{shop_path(CODE, spec)}/threads",
        json={"body": "Ma commande est-elle partie ?", "topic": "Suivi de commande"},
    )
    assert (await poll(poller, shop)).stored >= 1
    ticket = await ticket_holding(poller, shop, opened["messageId"])
    assert ticket["responseState"] == "AWAITING_REPLY" and ticket["respondBy"] is not None

    # The operator's staff: no reply needed. Mirakl clears its clock; the ticket is not due.
    await admin(
        double,
        "POST",
        f"{shop_path(CODE, spec)}/threads/{opened['threadId']}/no-reply-needed",
    )
    await poll(poller, shop)
    cleared = await ticket_holding(poller, shop, opened["messageId"])
    assert (cleared["responseState"], cleared["respondBy"]) == ("NO_RESPONSE_NEEDED", None)

    report = await get_json(
        poller, shop.tenant_id, "/api/v1/response-times", marketplace=CODE, days=30
    )
    figure = report["marketplaceFigure"]
    assert figure["available"] is True, figure
    assert figure["name"] == "order_messages_response_delay (LAST_MONTH)"
    assert figure["averageResponseSeconds"] >= 0
    assert at(figure["until"]) - at(figure["since"]) == timedelta(days=30)


async def test_every_report_window_of_a_day_gets_a21s_figure_from_one_call(
    poller: RunningService, vault: VaultClient, double: str
) -> None:
    await admin(double, "PUT", "/limits", json={"enforced": True})  # A21: once a day
    listed = await operators(double)
    spec, failing = listed[CODE]["shops"][0], listed["DECATHLON"]["shops"][0]
    tenant = f"t{uuid.uuid4().hex[:10]}"
    shop = await connect(poller, vault, tenant, CODE, spec)
    figures = {
        days: (
            await get_json(poller, tenant, "/api/v1/response-times", marketplace=CODE, days=days)
        )["marketplaceFigure"]
        for days in (30, 90, 7)
    }
    assert {days: (f["available"], f["name"]) for days, f in figures.items()} == {
        30: (True, "order_messages_response_delay (LAST_MONTH)"),
        90: (True, "order_messages_response_delay (LAST_THREE_MONTHS)"),
        7: (True, "order_messages_response_delay (LAST_MONTH)"),
    }
    assert at(figures[90]["until"]) - at(figures[90]["since"]) == timedelta(days=91)
    calls = await admin(double, "GET", f"{shop_path(CODE, spec)}/calls")
    assert calls["calls"]["A21"] == 1
    assert shop.marketplace == CODE

    # A call that fails (Mirakl down through the client's every attempt): not available.
    faults = {"failNext": 20, "failStatus": 503, "operations": ["DECATHLON.A21"]}
    await admin(double, "PUT", "/faults", json=faults)
    await connect(poller, vault, tenant, "DECATHLON", failing)
    down = (
        await get_json(poller, tenant, "/api/v1/response-times", marketplace="DECATHLON", days=30)
    )["marketplaceFigure"]
    assert down["available"] is False and down["reason"], down
    await admin(double, "DELETE", "/faults")
