"""Fnac's and Darty's orders through the orders service: oauth and orders on a NATS of
their own, as the orders service's own tests start them (keybuzz_devstack.orders_testing);
the double's own tests on a sandbox of their own (``serve``, ``fnac_http``)."""

import httpx
import pytest_asyncio
from keybuzz_devstack.oauth_testing import make_kit  # noqa: F401 - fixture (make_orders's oauth)
from keybuzz_devstack.orders_testing import make_orders, orders_nats  # noqa: F401 - fixtures
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.fixtures import ServedFactory, serve  # noqa: F401 - fixture

# Fnac seconds run 60 times faster: a token lives a minute, the rate limit allows 120/s.
FNAC_TIME_SCALE = 60.0


@pytest_asyncio.fixture
async def fnac_http(serve: ServedFactory) -> httpx.AsyncClient:  # noqa: F811 - the fixture
    return await serve(SandboxConfig(time_scale=FNAC_TIME_SCALE))
