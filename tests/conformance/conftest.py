"""The conformance suite's fixtures (harness.py): a sandbox, oauth and a poller per test
worker; each case runs once per registered shop-API connector, with its double's driver."""

from typing import Any

import pytest
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import (  # noqa: F401
    Stack,
    conformance,
    conformance_sandbox,
    driver_of,
    shop_api_connectors,
    stacks,
)


@pytest.fixture(params=shop_api_connectors(), ids=lambda c: c.marketplace)
def connector(request: pytest.FixtureRequest) -> Connector:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def driver(connector: Connector, conformance: Stack) -> Any:  # noqa: F811
    found = driver_of(connector)
    yield found
    await found.clear_faults(conformance.admin)
