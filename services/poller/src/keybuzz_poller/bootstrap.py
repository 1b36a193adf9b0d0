"""The one place the poller's ports are assembled: the PostgreSQL adapters on the service's
pool and its units of work, the mailbox, the parse, the SMTP relay. A unit of work's writes
may span packages: the projection's also writes polling's schedule (a tenant with an enabled
address joins it in the same transaction), a poll's writes the cursor, the tickets and the
replies a bounce marks; each package declares what it needs, the adapters are filled here."""

from __future__ import annotations

import functools

import asyncpg
from keybuzz_shared.uow import store_unit_of_work

from keybuzz_poller.inbound.ports import InboundPorts, ProjectionWrites
from keybuzz_poller.inbound.store import PostgresProjection
from keybuzz_poller.polling.ports import PollingPorts, PollPorts, PollWrites
from keybuzz_poller.polling.scheduler import Scheduler
from keybuzz_poller.polling.store import PostgresPollSchedule, PostgresQuarantine
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.reading.mailbox import Mailbox
from keybuzz_poller.reading.mailbox_hooks import parse_budget
from keybuzz_poller.reading.parse_workers import parse_mails
from keybuzz_poller.reading.ports import ReadingPorts
from keybuzz_poller.reading.store import PostgresCursors
from keybuzz_poller.replies.memory import ReplyMemory
from keybuzz_poller.replies.ports import RepliesPorts, ReplyConfig, ReplyWrites
from keybuzz_poller.replies.sender import ReplySender
from keybuzz_poller.replies.smtp_relay import SmtpRelay
from keybuzz_poller.replies.store import PostgresReplies
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.tickets.alerts_store import PostgresAlerts
from keybuzz_poller.tickets.ports import TicketsPorts
from keybuzz_poller.tickets.store import PostgresTickets


async def assemble(runtime: PollerRuntime) -> None:
    """``on_startup``, after the mailbox: every later hook and handler finds the ports."""
    settings = runtime.settings

    def projection_writes(conn: asyncpg.Connection) -> ProjectionWrites:
        return ProjectionWrites(PostgresProjection(conn), PostgresPollSchedule(conn))

    def poll_writes(conn: asyncpg.Connection) -> PollWrites:
        return PollWrites(PostgresCursors(conn), PostgresTickets(conn), PostgresReplies(conn))

    def reply_writes(conn: asyncpg.Connection) -> ReplyWrites:
        return ReplyWrites(replies=PostgresReplies(conn), tickets=PostgresTickets(conn))

    def wake_scheduler() -> None:
        scheduler = runtime.components.get(Scheduler)
        if isinstance(scheduler, Scheduler):
            scheduler.wake.set()

    def wake_sender() -> None:  # none runs in ``--once``
        sender = runtime.components.get(ReplySender)
        if isinstance(sender, ReplySender):
            sender.wake()

    runtime.provide(
        PollerPorts(
            inbound=InboundPorts(
                projection=PostgresProjection(runtime.pool),
                unit_of_work=store_unit_of_work(runtime.unit_of_work, projection_writes),
                poll_interval=float(settings.poll_interval_seconds),
            ),
            polling=PollingPorts(
                schedule=PostgresPollSchedule(runtime.pool),
                quarantine=PostgresQuarantine(runtime.pool),
                wake=wake_scheduler,
            ),
            polls=PollPorts(
                reading=ReadingPorts(
                    mailbox=runtime.component(Mailbox),
                    parse=functools.partial(parse_mails, budget=parse_budget(settings)),
                    cursors=PostgresCursors(runtime.pool),
                    unit_of_work=store_unit_of_work(runtime.unit_of_work, poll_writes),
                ),
                bounce_keys=settings.bounce_signing_keys,
                service=runtime.name,
            ),
            tickets=TicketsPorts(
                tickets=PostgresTickets(runtime.pool),
                unit_of_work=store_unit_of_work(runtime.unit_of_work, PostgresTickets),
                alerts=PostgresAlerts(runtime.pool),
                alert_unit_of_work=store_unit_of_work(runtime.unit_of_work, PostgresAlerts),
            ),
            replies=RepliesPorts(
                replies=PostgresReplies(runtime.pool),
                unit_of_work=store_unit_of_work(runtime.unit_of_work, reply_writes),
                relay=SmtpRelay(settings),
                config=reply_config(settings),
                memory=ReplyMemory(
                    settings.reply_memory_budget_bytes, settings.reply_tenant_memory_budget_bytes
                ),
                service=runtime.name,
                wake_sender=wake_sender,
            ),
        )
    )


def reply_config(settings: PollerSettings) -> ReplyConfig:
    return ReplyConfig(
        inbound_domain=settings.inbound_domain,
        bounce_signing_keys=settings.bounce_signing_keys,
        send_batch_bytes=settings.reply_send_batch_bytes,
        lease_seconds=settings.reply_lease_seconds,
        max_attempts=settings.reply_max_attempts,
        retry_base_seconds=settings.reply_retry_base_seconds,
        retry_max_seconds=settings.reply_retry_max_seconds,
        relay_timeout_seconds=settings.smtp_relay_timeout_seconds,
    )


def ports_of(runtime: PollerRuntime) -> PollerPorts:
    return runtime.component(PollerPorts)
