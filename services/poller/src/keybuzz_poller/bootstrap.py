"""The one place the poller's ports are assembled: the PostgreSQL adapters on the service's
pool and its units of work, the mailbox, the parse, the SMTP relay, and the marketplaces'
APIs (polled, and replied through) over the shops' keys in Vault. A unit of work's writes may span packages: the projection's also
writes polling's schedule (a tenant with an enabled address joins it in the same
transaction), a poll's writes the cursor, the tickets and the replies a bounce marks; each
package declares what it needs, the adapters are filled here."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import timedelta

import asyncpg
from keybuzz_shared.connectors.connector_settings import ShopApiSettings
from keybuzz_shared.connectors.registry import PerMarketplace
from keybuzz_shared.connectors.seam import Connector
from keybuzz_shared.uow import store_unit_of_work

from keybuzz_poller.inbound.ports import InboundPorts, ProjectionWrites
from keybuzz_poller.inbound.store import PostgresProjection
from keybuzz_poller.polling.domain import PollResult
from keybuzz_poller.polling.ports import PollingPorts, PollPorts, PollWrites
from keybuzz_poller.polling.scheduler import LeasedPolls, Scheduler
from keybuzz_poller.polling.shops import ShopScheduler, poll_due_shops_once, start_shop_polling
from keybuzz_poller.polling.shops_store import PostgresShops, PostgresShopSchedule
from keybuzz_poller.polling.store import PostgresPollSchedule, PostgresQuarantine
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.reading.mailbox import Mailbox
from keybuzz_poller.reading.mailbox_hooks import parse_budget
from keybuzz_poller.reading.parse_workers import parse_mails
from keybuzz_poller.reading.ports import ReadingPorts
from keybuzz_poller.reading.store import PostgresCursors
from keybuzz_poller.replies.memory import ReplyMemory
from keybuzz_poller.replies.outcomes import count_reply
from keybuzz_poller.replies.ports import RepliesPorts, ReplyConfig, ReplyWrites
from keybuzz_poller.replies.sender import ReplySender
from keybuzz_poller.replies.smtp_relay import SmtpRelay
from keybuzz_poller.replies.store import PostgresReplies
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.shops.allowance import allowance_of
from keybuzz_poller.shops.api_replies import send_through_api
from keybuzz_poller.shops.api_source import ApiMessageSource
from keybuzz_poller.shops.closing import closing_part
from keybuzz_poller.shops.closing_ports import ClosingPorts
from keybuzz_poller.shops.connection_ports import ShopPollingPorts
from keybuzz_poller.shops.connections import key_refused, shop_marketplace
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.shops.pacing import call_frequency_of
from keybuzz_poller.shops.ports import ShopPorts, ShopReading, forgetting
from keybuzz_poller.shops.replies import ShopReplies
from keybuzz_poller.shops.response_figures import ShopResponseFigures
from keybuzz_poller.shops.store import PostgresClosing, PostgresShopCalls, PostgresShopStore
from keybuzz_poller.tickets.alerts_store import PostgresAlerts
from keybuzz_poller.tickets.ports import TicketsPorts, system_clock
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

    def waker(kind: type[LeasedPolls]) -> Callable[[], None]:
        def wake() -> None:
            scheduler = runtime.components.get(kind)
            if isinstance(scheduler, kind):
                scheduler.wake.set()

        return wake

    # Each shop marketplace's own settings, its connector's, made when first asked.
    shop_apis = PerMarketplace(lambda c: settings.shop_api(shop_marketplace(c)))
    source = ApiMessageSource(runtime.vault, shop_apis, inside_allowed=not settings.is_production)
    runtime.provide(source)
    shops = ShopPorts(
        source=source,
        store=PostgresShopStore(runtime.pool),
        unit_of_work=store_unit_of_work(runtime.unit_of_work, PostgresShopStore),
        clock=system_clock,
        reading=shop_reading(shop_apis).__getitem__,
        replies_sent=functools.partial(count_reply, runtime.name, "SENT"),
        calls=PostgresShopCalls(runtime.pool),
    )
    shop_polling = ShopPollingPorts(
        connections=PostgresShops(runtime.pool),
        unit_of_work=store_unit_of_work(runtime.unit_of_work, PostgresShops),
        wake=waker(ShopScheduler),
        clock=system_clock,
        forget_key=forgetting(source.forget_key, shops),
    )

    async def shop_key_refused(tenant_id: str, marketplace: str, reason: str) -> None:
        await key_refused(shop_polling, Shop(tenant_id, marketplace), reason)

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
                wake=waker(Scheduler),
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
                figures=ShopResponseFigures(source),
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
                apis=api_replies(runtime, source),
                key_refused=shop_key_refused,
                send_through_api=send_through_api,
            ),
            shops=shops,
            shop_polling=shop_polling,
            closing=ClosingPorts(
                unit_of_work=store_unit_of_work(runtime.unit_of_work, PostgresClosing),
                marketplaces=source,
                part_of=closing_part,
                key_refused=shop_key_refused,
            ),
        )
    )


def shop_reading(shop_apis: Mapping[str, ShopApiSettings]) -> Mapping[str, ShopReading]:
    """How each marketplace's shops are read, from its own shop API settings."""

    def reading(connector: Connector) -> ShopReading:
        api = shop_apis[connector.marketplace]
        return ShopReading(
            mark_as_read=api.mark_as_read,
            first_poll=timedelta(days=api.first_poll_days),
            max_attachment_bytes=api.max_attachment_bytes,
            allowance=allowance_of(api),
            overlap=timedelta(seconds=api.listing_overlap_seconds),
            pace=call_frequency_of(api),
            max_calls=api.max_calls_per_poll,
            app_calls=api.app_calls,
        )

    return PerMarketplace(reading)


def api_replies(runtime: PollerRuntime, source: ApiMessageSource) -> Mapping[str, ShopReplies]:
    """The marketplaces whose connector has a ``shop_api`` reply through it (on the shops'
    HTTP client); the others by mail through their relay."""

    def replies(connector: Connector) -> ShopReplies:
        marketplace = shop_marketplace(connector)
        return ShopReplies(
            connector,
            runtime.vault,
            source.http(marketplace),
            runtime.settings.shop_api(marketplace),
            source.sessions,  # one session per shop for its polls and its replies
        )

    return PerMarketplace(replies)


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


async def close_sources(runtime: PollerRuntime) -> None:
    """``on_shutdown``: the marketplace APIs' connections close."""
    source = runtime.components.get(ApiMessageSource)
    if isinstance(source, ApiMessageSource):
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
