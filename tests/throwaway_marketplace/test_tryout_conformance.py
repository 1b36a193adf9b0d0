"""docs/ARCHITECTURE.md's "Adding a marketplace", proven: a throwaway marketplace's
connector made from the kit (``connector.py``: its declaration and mappings) and its
double (``double.py``), registered as their folders' entry points would register them
(``registry.registered``, ``doubles.registered``), pass the conformance suite's connect,
read and reply cases (tests/conformance/) with no edit anywhere else: the sandbox serves
the double, the suite finds its driver, oauth and the poller serve the connector."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from keybuzz_devstack.testing import SANDBOX_TIME_SCALE
from keybuzz_sandbox import doubles
from keybuzz_sandbox.config import config_from_env
from keybuzz_sandbox.conformance import ShopDriver
from keybuzz_sandbox.testing import running_sandbox
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import Stack, StackOn, driver_of, stacks  # noqa: F401 - fixture
from tests.conformance.test_shop_api_connectors import (  # noqa: F401 - the suite's cases
    polled,
    test_a_hostile_body_is_refused_without_harm,
    test_a_revoked_credential_requires_reauthorization,
    test_a_shop_is_one_shop_whatever_spelling_of_its_id_is_typed,
    test_a_shop_is_refused_to_a_second_tenant_under_every_marketplace_of_its_api,
    test_a_slow_answer_is_cut_at_the_deadline_without_delaying_another_shop,
    test_an_expired_token_is_renewed_once_within_the_poll,
    test_an_unavailable_api_is_held_and_retried,
    test_connects_with_its_credentials_and_refuses_wrong_ones,
    test_more_messages_than_a_page_are_each_stored_once_across_a_restart,
)
from tests.conformance.test_shop_replies import (  # noqa: F401 - the suite's cases
    test_a_reply_the_marketplace_shows_rewritten_is_sent_once,
    test_a_reply_to_each_recipient_is_sent_at_most_once,
)
from tests.throwaway_marketplace.connector import CONNECTOR
from tests.throwaway_marketplace.double import DOUBLE


@pytest.fixture(scope="module")
def tryout_connector() -> Connector:
    """The connector registered as TRYOUT (``bypasses.py``: a variant of it)."""
    return CONNECTOR


@pytest.fixture(scope="module")
def tryout(tryout_connector: Connector) -> Iterator[None]:
    with registry.registered(tryout_connector), doubles.registered(DOUBLE):
        yield


@pytest.fixture(scope="module")
async def conformance_sandbox(tryout: None) -> AsyncIterator[str]:
    """The sandbox in this process, serving every double and the registered one."""
    config = config_from_env({"SANDBOX_TIME_SCALE": str(SANDBOX_TIME_SCALE)})
    async with running_sandbox(config) as url:
        yield url


@pytest.fixture(scope="module")
async def conformance(
    conformance_sandbox: str,
    stacks: StackOn,  # noqa: F811 - the fixture
) -> AsyncIterator[Stack]:
    """oauth and the poller of this module's own, on its sandbox (the suite's are a
    worker's, on a sandbox without the throwaway double)."""
    async with stacks(conformance_sandbox) as found:
        yield found


@pytest.fixture
def connector(tryout: None, tryout_connector: Connector) -> Connector:
    return tryout_connector


@pytest.fixture
async def driver(
    connector: Connector,
    conformance: Stack,
) -> AsyncIterator[ShopDriver]:
    found = driver_of(connector)
    yield found
    await found.clear_faults(conformance.admin)
