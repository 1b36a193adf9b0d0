"""A Mirakl shop is never called faster than its operator's M11 frequency, whatever made its
poll due: the poller against the sandbox's Mirakl double (its frequencies enforced, a 429
with Retry-After inside them, every call counted), the shops' keys in OpenBao, NATS and
PostgreSQL. The catalogue's M11 frequency is the double's own (a Mirakl minute lasts two
seconds here), so a poll that follows the last one's end sooner meets a 429."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from keybuzz_devstack.shop_api_testing import start_quiet_poller
from keybuzz_devstack.testing import MailServer, RunningService, service_migrations
from keybuzz_double_mirakl import service_env
from keybuzz_poller.polling.scheduler import PollPutOff
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.domain import Shop
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.testing import running_sandbox
from keybuzz_shared.vault import VaultClient
from mirakl_connector_helpers import admin, operators

StartService = Callable[..., Awaitable[RunningService]]
CODE = "DECATHLON"
# The double's M11 frequency, in real seconds (5): also a poll's deadline here, a busy
# machine's call must fit in what its wait in the slot leaves of it.
TIME_SCALE = 12.0
FREQUENCY = 60.0 / TIME_SCALE
EARLY = 1.0  # how early a poll is made due: within the lag's spread, it waits in its slot


@pytest.fixture
async def double() -> AsyncIterator[str]:
    async with running_sandbox(SandboxConfig(time_scale=TIME_SCALE)) as url:
        await admin(url, "PUT", "/limits", json={"enforced": True})
        yield url


def catalogue(double: str, m11: float) -> dict[str, str]:
    """The double's service settings with every operator's M11 frequency ``m11`` seconds."""
    env = service_env(double)
    entries = json.loads(env["MIRAKL_CATALOGUE"])
    for entry in entries:
        entry["frequencies"] = {"M11": m11}
    return {**env, "MIRAKL_CATALOGUE": json.dumps(entries)}


async def quiet_poller(
    start_service: StartService, dovecot: MailServer, double: str, m11: float, **more: str
) -> RunningService:
    return await start_quiet_poller(
        start_service, DEFINITION, dovecot, catalogue(double, m11), **more
    )


async def connected(poller: RunningService, vault: VaultClient, double: str) -> tuple[Shop, str]:
    """A shop of the operator connected for a new tenant, and its path on the double."""
    spec = (await operators(double))[CODE]["shops"][0]
    tenant = f"t{uuid.uuid4().hex[:10]}"
    fields = {"api_key": spec["apiKey"], "shop_id": str(spec["shopId"])}
    await poller.shop_connected(vault, CODE, fields, str(spec["shopId"]), tenant)
    return Shop(tenant, CODE), f"/operators/{CODE}/shops/{spec['shopId']}"


async def poll(poller: RunningService, shop: Shop) -> Any:
    return await poller.runtime.component(ShopScheduler).poll_now(shop.key)


async def m11_calls(double: str, path: str) -> int:
    """The shop's M11 calls the double saw, those it answered 429 included."""
    return int((await admin(double, "GET", f"{path}/calls"))["calls"].get("M11", 0))


async def no_429(double: str, path: str, polls: int) -> None:
    """Each poll made one M11 call (none refused and sent again) and none went inside a
    Retry-After."""
    assert await m11_calls(double, path) == polls
    assert (await admin(double, "GET", "/retry-after-violations"))["count"] == 0


async def test_a_poll_due_before_the_operators_frequency_allows_waits_in_its_slot(
    start_service: StartService, dovecot: MailServer, double: str, vault: VaultClient
) -> None:
    """Polls made due a second before the frequency allows (as a reconnection, a retry
    after a failure or a claim's lag makes them) each start the operator's frequency after
    the last one ended: no M11 call meets a 429."""
    poller = await quiet_poller(start_service, dovecot, double, FREQUENCY)
    shop, path = await connected(poller, vault, double)
    # Before the first poll: its call ends some moments before the poll returns, and the
    # next is paced from that end (on a loaded machine those moments are many).
    started = time.monotonic()
    await poll(poller, shop)
    for _ in range(2):
        await asyncio.sleep(FREQUENCY - EARLY)
        await poller.runtime.pool.execute(
            "UPDATE poller_shops SET next_poll_at = now() WHERE poll_key = $1", shop.key
        )
        await poll(poller, shop)
    assert time.monotonic() - started >= 2 * FREQUENCY
    await no_429(double, path, 3)


async def test_a_restarted_poller_keeps_the_shops_last_call(
    start_service: StartService,
    make_database: Callable[..., Awaitable[str]],
    dovecot: MailServer,
    double: str,
    vault: VaultClient,
) -> None:
    """The last call's time is the schedule's, in PostgreSQL: a poller started on the same
    database after another polled the shop puts its poll off all the same."""
    database = await make_database("poller", service_migrations(DEFINITION))
    frequency = 30.0  # longer than a poller's restart
    first = await quiet_poller(start_service, dovecot, double, frequency, DATABASE_URL=database)
    shop, path = await connected(first, vault, double)
    await poll(first, shop)
    await first.stop()
    second = await quiet_poller(start_service, dovecot, double, frequency, DATABASE_URL=database)
    with pytest.raises(PollPutOff):
        await poll(second, shop)
    assert await due_after_last(second, shop) == pytest.approx(frequency, abs=0.5)
    await no_429(double, path, 1)


async def test_a_poll_due_long_before_the_frequency_allows_is_put_off_to_then(
    start_service: StartService, dovecot: MailServer, double: str, vault: VaultClient
) -> None:
    """A poll claimed more than the lag's spread before the frequency allows gives its slot
    back: no call, due again when the frequency allows, no failure recorded."""
    frequency = 8.0  # beyond the seconds a claimed poll waits in its slot
    poller = await quiet_poller(start_service, dovecot, double, frequency)
    shop, path = await connected(poller, vault, double)
    await poll(poller, shop)
    with pytest.raises(PollPutOff):
        await poll(poller, shop)
    after_last = await due_after_last(poller, shop)
    assert frequency <= after_last == pytest.approx(frequency, abs=0.5)
    row = await poller.runtime.pool.fetchrow(
        "SELECT consecutive_failures, lease_owner FROM poller_shops WHERE poll_key = $1",
        shop.key,
    )
    assert (row["consecutive_failures"], row["lease_owner"]) == (0, None)
    await no_429(double, path, 1)


async def due_after_last(poller: RunningService, shop: Shop) -> float:
    """Seconds from the end of the shop's last poll to its next poll's due time."""
    after: float = await poller.runtime.pool.fetchval(
        "SELECT extract(epoch FROM next_poll_at - last_poll_at)::float8"
        " FROM poller_shops WHERE poll_key = $1",
        shop.key,
    )
    return after
