"""The one place the poller's ports are assembled: the PostgreSQL adapters on the service's
pool and its units of work, and Fnac's API over the shops' keys in Vault. The projection's unit of work also writes polling's schedule
(a tenant with an enabled address joins it in the same transaction): inbound declares the
port, polling's adapter fills it here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import asyncpg
from keybuzz_shared.uow import store_unit_of_work

from keybuzz_poller.inbound.ports import InboundPorts, ProjectionWrites
from keybuzz_poller.inbound.store import PostgresProjection
from keybuzz_poller.polling.domain import PollResult
from keybuzz_poller.polling.ports import PollingPorts
from keybuzz_poller.polling.scheduler import Scheduler
from keybuzz_poller.polling.shop_ports import ShopPollingPorts
from keybuzz_poller.polling.shops import ShopScheduler, poll_due_shops_once, start_shop_polling
from keybuzz_poller.polling.shops_store import PostgresShops, PostgresShopSchedule
from keybuzz_poller.polling.store import PostgresPollSchedule
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.reading.marketplace.fnac_source import FnacMessageSource
from keybuzz_poller.reading.marketplace.ports import ShopPorts
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.tickets.marketplace_store import PostgresShopStore
from keybuzz_poller.tickets.ports import system_clock


async def assemble(runtime: PollerRuntime) -> None:
    """``on_startup``, first: every later hook and handler finds the ports."""

    def projection_writes(conn: asyncpg.Connection) -> ProjectionWrites:
        return ProjectionWrites(PostgresProjection(conn), PostgresPollSchedule(conn))

    def waker(kind: type[Scheduler]) -> Callable[[], None]:
        def wake() -> None:
            scheduler = runtime.components.get(kind)
            if isinstance(scheduler, kind):
                scheduler.wake.set()

        return wake

    settings = runtime.settings
    source = FnacMessageSource(runtime.vault, settings.fnac_api_url, settings.fnac_timeout_seconds)
    runtime.provide(source)

    runtime.provide(
        PollerPorts(
            inbound=InboundPorts(
                projection=PostgresProjection(runtime.pool),
                unit_of_work=store_unit_of_work(runtime.unit_of_work, projection_writes),
                poll_interval=float(runtime.settings.poll_interval_seconds),
            ),
            polling=PollingPorts(
                schedule=PostgresPollSchedule(runtime.pool), wake=waker(Scheduler)
            ),
            shops=ShopPorts(
                source=source,
                store=PostgresShopStore(runtime.pool),
                unit_of_work=store_unit_of_work(runtime.unit_of_work, PostgresShopStore),
                clock=system_clock,
                mark_as_read=settings.fnac_mark_as_read,
                first_poll=timedelta(days=settings.fnac_first_poll_days),
                max_attachment_bytes=settings.fnac_max_attachment_bytes,
            ),
            shop_polling=ShopPollingPorts(
                connections=PostgresShops(runtime.pool),
                unit_of_work=store_unit_of_work(runtime.unit_of_work, PostgresShops),
                wake=waker(ShopScheduler),
                clock=system_clock,
            ),
        )
    )


async def close_sources(runtime: PollerRuntime) -> None:
    """``on_shutdown``: the marketplace APIs' connections close."""
    source = runtime.components.get(FnacMessageSource)
    if isinstance(source, FnacMessageSource):
        await source.aclose()


async def start_shop_polling_on_ports(runtime: PollerRuntime) -> None:
    """``on_startup``: this instance's shop scheduler, on the shops' schedule and ports."""
    ports = ports_of(runtime)
    await start_shop_polling(
        runtime, PostgresShopSchedule(runtime.pool), ports.shops, ports.shop_polling
    )


async def poll_due_shops_on_ports(runtime: PollerRuntime) -> list[PollResult]:
    """``--once``: the shops due now, on the shops' schedule and ports."""
    ports = ports_of(runtime)
    return await poll_due_shops_once(
        runtime, PostgresShopSchedule(runtime.pool), ports.shops, ports.shop_polling
    )


def ports_of(runtime: PollerRuntime) -> PollerPorts:
    return runtime.component(PollerPorts)
