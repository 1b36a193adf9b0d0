"""The one place the poller's ports are assembled: the PostgreSQL adapters on the service's
pool and its units of work. The projection's unit of work also writes polling's schedule
(a tenant with an enabled address joins it in the same transaction): inbound declares the
port, polling's adapter fills it here."""

from __future__ import annotations

import asyncpg
from keybuzz_shared.uow import store_unit_of_work

from keybuzz_poller.inbound.ports import InboundPorts, ProjectionWrites
from keybuzz_poller.inbound.store import PostgresProjection
from keybuzz_poller.polling.ports import PollingPorts
from keybuzz_poller.polling.scheduler import Scheduler
from keybuzz_poller.polling.store import PostgresPollSchedule
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.runtime import PollerRuntime


async def assemble(runtime: PollerRuntime) -> None:
    """``on_startup``, first: every later hook and handler finds the ports."""

    def projection_writes(conn: asyncpg.Connection) -> ProjectionWrites:
        return ProjectionWrites(PostgresProjection(conn), PostgresPollSchedule(conn))

    def wake_scheduler() -> None:
        scheduler = runtime.components.get(Scheduler)
        if isinstance(scheduler, Scheduler):
            scheduler.wake.set()

    runtime.provide(
        PollerPorts(
            inbound=InboundPorts(
                projection=PostgresProjection(runtime.pool),
                unit_of_work=store_unit_of_work(runtime.unit_of_work, projection_writes),
                poll_interval=float(runtime.settings.poll_interval_seconds),
            ),
            polling=PollingPorts(schedule=PostgresPollSchedule(runtime.pool), wake=wake_scheduler),
        )
    )


def ports_of(runtime: PollerRuntime) -> PollerPorts:
    return runtime.component(PollerPorts)
