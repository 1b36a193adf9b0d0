"""Fnac's and Darty's orders through the orders service: oauth and orders on a NATS of
their own, as the orders service's own tests start them (keybuzz_devstack.orders_testing);
the double's own tests on a sandbox of their own (``serve``, ``fnac_http``)."""

import httpx
import pytest
import pytest_asyncio
from keybuzz_devstack.oauth_testing import make_module_kit  # noqa: F401 - fixture (orders' oauth)
from keybuzz_devstack.orders_testing import (  # noqa: F401 - fixtures
    make_module_orders,
    orders_nats,
)
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.fixtures import ServedFactory, serve, serving  # noqa: F401 - fixture

served_doubles = serving("fnac")  # the double's own tests on a sandbox of it alone


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "own_poller: the test runs on a poller of its own, not its module's"
    )


# Fnac seconds run 60 times faster: a token lives a minute, the rate limit allows 120/s.
FNAC_TIME_SCALE = 60.0


@pytest_asyncio.fixture
async def fnac_http(serve: ServedFactory) -> httpx.AsyncClient:  # noqa: F811 - the fixture
    return await serve(SandboxConfig(time_scale=FNAC_TIME_SCALE))
