"""Fixtures for tenant-sync tests: the service on real NATS/PostgreSQL with seed 004's tenants."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from keybuzz_devstack import bootstrap
from keybuzz_devstack.testing import purge_tenant_events
from keybuzz_tenant_sync.service import DEFINITION
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from tenant_sync_support import Watch


@pytest.fixture
async def product_url(make_database: Callable[[str], Awaitable[str]]) -> str:
    """A product database (keybuzz) holding seed 004's six tenants."""
    url = await make_database("product")
    await bootstrap.seed_product_database(url)
    return url


@pytest.fixture
async def service(
    start_service: Callable[..., Awaitable[Any]], product_url: str, stack: Any
) -> Any:
    # Test files share their worker's NATS: each test starts from an empty stream.
    await purge_tenant_events(stack.nats_url)
    return await start_service(DEFINITION, PRODUCT_DATABASE_URL=product_url)


@pytest.fixture
async def js(stack: Any) -> AsyncIterator[JetStreamContext]:
    """A connection of our own, as the product app or an operator would have."""
    nc = await nats.connect(stack.nats_url)
    yield nc.jetstream()
    await nc.drain()


@pytest.fixture
async def watch(js: JetStreamContext) -> AsyncIterator[Callable[[str], Awaitable[Watch]]]:
    subs = []

    async def start(subject: str) -> Watch:
        sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW)
        subs.append(sub)
        return Watch(sub)

    yield start
    for sub in subs:
        await sub.unsubscribe()
