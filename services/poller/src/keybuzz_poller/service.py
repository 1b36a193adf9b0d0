"""How the poller service is assembled."""

import asyncio
from dataclasses import replace
from pathlib import Path

from keybuzz_shared import ticket_topics
from keybuzz_shared.service import ServiceDefinition

from keybuzz_poller.app import (
    PollerController,
    ResponseAlertsController,
    ResponseDeadlinesController,
    ResponseTimesController,
    TicketController,
)
from keybuzz_poller.bootstrap import (
    assemble,
    close_sources,
    ports_of,
    start_shop_polling_on_ports,
)
from keybuzz_poller.events import register_subscribers
from keybuzz_poller.inbound.mx_hooks import start_mx, stop_mx
from keybuzz_poller.micro import micro_endpoints
from keybuzz_poller.polling.scheduler import Scheduler, start_polling, stop_polling
from keybuzz_poller.polling.shops import ShopScheduler, stop_shop_polling
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.reading.mailbox_hooks import close_mailbox, imap_ready, provide_mailbox
from keybuzz_poller.reading.parse_workers import start_workers
from keybuzz_poller.replies.sender import ReplySender
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.tickets.alerts import ResponseAlerts


async def start_mx_pushing_polls(runtime: PollerRuntime) -> None:
    """``on_startup``: the MX, each mail it stores making its tenant due now (the packages
    meet here: inbound knows nothing of polling; docs/POLLER.md, "Push on delivery")."""
    ports = ports_of(runtime)
    await start_mx(
        runtime, ports.inbound.projection, on_delivered=ports.polling.schedule.mark_delivered
    )


async def start_polling_on_ports(runtime: PollerRuntime) -> None:
    """``on_startup``: this instance's scheduler, on the schedule's port."""
    ports = ports_of(runtime)
    await start_polling(runtime, ports.polling, ports.polls)
    if runtime.settings.poll_enabled:
        start_workers()


async def start_reply_sender(runtime: PollerRuntime) -> None:
    """``on_startup``: send queued replies from now on (unless REPLY_SENDER_ENABLED=false)."""
    sender = ReplySender(ports_of(runtime).replies)
    runtime.provide(sender)
    if runtime.settings.reply_sender_enabled:
        sender.start()


async def stop_reply_sender(runtime: PollerRuntime) -> None:
    sender = runtime.components.pop(ReplySender, None)
    if isinstance(sender, ReplySender):
        await sender.stop()


async def start_response_alerts(runtime: PollerRuntime) -> None:
    """``on_startup``: this instance's alert rounds, against the ports' clock (read each time)."""
    alerts = ResponseAlerts(
        ports_of(runtime).tickets,
        lambda: ports_of(runtime).clock(),
        runtime.settings.response_alert_interval_seconds,
    )
    runtime.provide(alerts)
    alerts.loop.start()


async def stop_response_alerts(runtime: PollerRuntime) -> None:
    alerts = runtime.components.pop(ResponseAlerts, None)
    if isinstance(alerts, ResponseAlerts):
        await alerts.loop.aclose()


async def load_topic_models(runtime: PollerRuntime) -> None:
    """``on_startup``: the language model loaded (~1 s when first unpacked on the machine,
    ~0.2 s from then on) in a thread before the first poll,
    not by the first buyer's message inside a poll's transaction."""
    await asyncio.to_thread(ticket_topics.warm_up)


DEFINITION = ServiceDefinition(
    name="poller",
    description="Fetch new buyer messages for every connected tenant and store them once as tickets",
    settings_type=PollerSettings,
    migrations=Path(__file__).parent / "migrations",
    route_handlers=[
        PollerController,
        TicketController,
        ResponseTimesController,
        ResponseAlertsController,
        ResponseDeadlinesController,
    ],
    register_subscribers=register_subscribers,
    micro_endpoints=micro_endpoints,
    on_startup=[
        load_topic_models,
        provide_mailbox,
        assemble,
        start_mx_pushing_polls,
        start_polling_on_ports,
        start_shop_polling_on_ports,
        start_reply_sender,
        start_response_alerts,
    ],
    # Run in reverse: the reply sender and polling stop first, then the MX, then the IMAP
    # and marketplace connections close.
    on_shutdown=[
        close_sources,
        close_mailbox,
        stop_mx,
        stop_shop_polling,
        stop_polling,
        stop_reply_sender,
        stop_response_alerts,
    ],
    dependencies={"scheduler": Scheduler, "shop_scheduler": ShopScheduler, "ports": PollerPorts},
    ready_checks={"imap": imap_ready},
)

# ``python -m keybuzz_poller --once``: no HTTP, no MX, no subscribers, no scheduler loop;
# the frame still applies migrations and publishes the outbox before it stops.
ONCE_DEFINITION = replace(
    DEFINITION,
    route_handlers=[],
    register_subscribers=None,
    micro_endpoints=None,
    on_startup=[load_topic_models, provide_mailbox, assemble],
    on_shutdown=[close_sources, close_mailbox],
    dependencies={},
    ready_checks={},
)
