"""The orders' path of a key echoed back (the conformance suite runs oauth and the poller,
not orders: tests/conformance/test_secrets_echoed.py): a marketplace refusing a sync
round's calls with the shop's key quoted in every form the doubles know
(``keybuzz_sandbox.echo``) leaves none of them in ``order_sync_cursors`` (its
``last_error``), any other row of orders' database, or a log line; the round's error still
says which marketplace refused and why, in its words. A sandbox of its own: its echo is
armed for every double."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from keybuzz_devstack.testing import Infra, eventually, start_service_on_module_nats
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_orders.sync import OrderSync
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.echo import ALL
from keybuzz_sandbox.testing import running_sandbox

from tests.conformance.test_secrets_echoed import (  # noqa: F401
    EmittedLines,
    database_text,
    emitted,
    found_in,
)
from tests.test_marketplaces_at_run_time import StartService, fnac_shop_connected_in_orders

start_service = start_service_on_module_nats  # why: tests/test_services_start.py


async def test_a_key_echoed_in_any_form_by_a_refused_sync_reaches_no_cursor_row_or_log(
    start_service: StartService,
    stack: Infra,
    emitted: EmittedLines,  # noqa: F811
) -> None:
    async with running_sandbox(SandboxConfig()) as sandbox:
        orders = await start_service(
            ORDERS,
            FNAC_API_URL=f"{sandbox}/fnac/api.php/",
            ORDERS_SYNC_INTERVAL_SECONDS="3600",  # rounds when the test says
            BACKFILL_DAYS="2",  # a short backfill: the sync starts after it
        )
        tenant = str(uuid.uuid4())
        shop = await fnac_shop_connected_in_orders(orders, stack, "FNAC", tenant, sandbox)
        pool = orders.runtime.pool

        async def backfilled() -> Any:
            return await pool.fetchval(
                "SELECT status FROM order_backfill_jobs WHERE tenant_id = $1"
                " AND status <> 'RUNNING'",
                tenant,
            )

        assert await eventually(backfilled) == "COMPLETED"
        async with httpx.AsyncClient(base_url=sandbox, timeout=10) as admin:
            # the backfill spent the shop's calls: the refusal must be the echo, not a 429
            assert (await admin.post("/_sandbox/fnac/ratelimits/reset")).status_code == 204
            armed = await admin.put("/_sandbox/echo-secret", json={"form": ALL, "refuse": True})
            assert armed.status_code == 200, armed.text
            refused = await orders.runtime.component(OrderSync).sync_now(tenant)
            await admin.delete("/_sandbox/echo-secret")
        assert refused.errors == 1
        cursor = await pool.fetchrow(
            "SELECT last_error FROM order_sync_cursors WHERE tenant_id = $1", tenant
        )
        seen = "\n".join(
            [repr(dict(cursor)), await database_text(pool, [shop["key"]]), *emitted.lines]
        )
        assert found_in(seen, shop["key"]) == []
        # What an operator needs is kept: the marketplace, the call, Fnac's words.
        assert "FNAC" in cursor["last_error"], cursor
        assert "invalid request for this shop" in cursor["last_error"], cursor
