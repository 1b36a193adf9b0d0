"""The conformance suite's fixtures (harness.py): a sandbox, oauth and a poller per test
worker; each case runs once per connector family (the first of its registered shop-API
marketplaces), and for each of them when it is marked ``every_marketplace``."""

from typing import Any

import pytest
from keybuzz_shared.connectors.registry import families
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import (  # noqa: F401
    Stack,
    conformance,
    conformance_sandbox,
    driver_of,
    shop_api_connectors,
    stacks,
)

EVERY_MARKETPLACE = "every_marketplace"  # registered in pyproject.toml: any selection sees it


def first_of_each_family(listed: list[Connector]) -> list[Connector]:
    """The first of ``listed`` served by each entry point: a family's other marketplaces
    (one package serving several from data, Fnac's Darty) run the same code on the same
    double, and add only what their marks say differs."""
    family_of = {m: name for name, members in families().items() for m in members}
    firsts: dict[str, Connector] = {}
    for connector in listed:
        firsts.setdefault(family_of.get(connector.marketplace, connector.marketplace), connector)
    return list(firsts.values())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "connector" not in metafunc.fixturenames:
        return
    listed = shop_api_connectors()
    if metafunc.definition.get_closest_marker(EVERY_MARKETPLACE) is None:
        listed = first_of_each_family(listed)
    metafunc.parametrize("connector", listed, ids=lambda c: c.marketplace, indirect=True)


@pytest.fixture
def connector(request: pytest.FixtureRequest) -> Connector:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def driver(connector: Connector, conformance: Stack) -> Any:  # noqa: F811
    found = driver_of(connector)
    yield found
    await found.clear_faults(conformance.admin)
