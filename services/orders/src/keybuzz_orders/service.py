"""How the orders service is assembled."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from keybuzz_shared.addresses import data_client
from keybuzz_shared.connectors.registry import PerMarketplace, connectors
from keybuzz_shared.connectors.seam import Connector, OpenedFeed, shop_api_of
from keybuzz_shared.service import Runtime, ServiceDefinition
from keybuzz_shared.tls import verifying

from keybuzz_orders import bootstrap, events
from keybuzz_orders.app import ROUTES
from keybuzz_orders.backfill.backfill import Backfills
from keybuzz_orders.messaging import OrderMessaging
from keybuzz_orders.micro import micro_endpoints
from keybuzz_orders.notifications import notifications
from keybuzz_orders.order_context import OrderContext
from keybuzz_orders.order_source import order_feed
from keybuzz_orders.settings import OrdersSettings
from keybuzz_orders.sync import OrderSync


@dataclass(frozen=True)
class Feed:
    """The order feed's adapters of this process (closed at shutdown)."""

    opened: OpenedFeed


# The order feed's client (a feed may open clients of its own).
FEED_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class HttpClients:
    """The calls of the order feed, and of each shop API with its marketplace's own timeout
    (its addresses, a catalogue's among them, checked as they are called); TLS verified
    against the system's CAs, always (closed at shutdown)."""

    feed: httpx.AsyncClient
    shop_apis: PerMarketplace[httpx.AsyncClient]  # made when a marketplace is first asked

    @classmethod
    def of(cls, settings: OrdersSettings) -> HttpClients:
        def client(connector: Connector) -> httpx.AsyncClient:
            shop_api_of(connector)  # LookupError: its orders come from the order feed
            api = settings.shop_api(connector.marketplace)
            inside_allowed = not settings.is_production
            return data_client(api.timeout_seconds, inside_allowed=inside_allowed)

        return cls(
            feed=httpx.AsyncClient(timeout=FEED_TIMEOUT_SECONDS, verify=verifying()),
            shop_apis=PerMarketplace(client),
        )

    async def aclose(self) -> None:
        for http in (self.feed, *self.shop_apis.made()):
            await http.aclose()


# Each marketplace's name as sellers call it, once.
DISPLAY_NAMES = ", ".join(dict.fromkeys(c.display_name for c in connectors()))


async def _provide(runtime: Runtime[Any]) -> None:
    """Before the consumers start: the first connection.connected already finds them."""
    http = HttpClients.of(runtime.settings)
    runtime.provide(http)
    feed = order_feed().open(runtime, http.feed)
    runtime.provide(Feed(feed))
    ports = bootstrap.assemble(runtime, feed, http.shop_apis)
    runtime.provide(OrderMessaging(ports.orders, feed.messaging))
    runtime.provide(Backfills(ports.backfill))
    runtime.provide(OrderSync(ports.sync))
    runtime.provide(OrderContext(ports.orders, ports.order_units, ports.source, ports.sources))
    await notifications.provide(runtime, feed, ports)  # order changes over SQS, when configured
    for component in feed.components:  # its clients, by type
        runtime.provide(component)


async def _resume_backfills(runtime: Runtime[Any]) -> None:
    await runtime.component(Backfills).resume()
    runtime.component(OrderSync).start()
    notifications.start(runtime)


async def _stop_backfills(runtime: Runtime[Any]) -> None:
    await notifications.stop(runtime)
    if OrderSync in runtime.components:  # start-up may have failed before providing it
        await runtime.component(OrderSync).aclose()
    if Backfills in runtime.components:
        await runtime.component(Backfills).aclose()
    if Feed in runtime.components:
        await runtime.component(Feed).opened.aclose()
    if HttpClients in runtime.components:
        await runtime.component(HttpClients).aclose()


def _register(runtime: Runtime[Any]) -> None:
    events.register(runtime)


DEFINITION = ServiceDefinition(
    name="orders",
    description=f"Backfill, refresh and serve a tenant's orders ({DISPLAY_NAMES})",
    settings_type=OrdersSettings,
    migrations=Path(__file__).parent / "migrations",
    route_handlers=ROUTES,
    register_subscribers=_register,
    micro_endpoints=micro_endpoints,
    on_startup=[_provide, _resume_backfills],
    on_shutdown=[_stop_backfills],
    dependencies={"backfills": Backfills, "order_messaging": OrderMessaging},
    # Every statement of this service has one plan that suits any value (a search's
    # branches each walk an index newest first, store.list_orders_query): planning each
    # execution anew cost a search more than running it (docs/BENCHMARKS.md).
    database_settings={"plan_cache_mode": "force_generic_plan"},
)
