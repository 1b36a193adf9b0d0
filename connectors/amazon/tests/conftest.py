"""Fixtures for Amazon's tests: the connector's through the oauth service
(keybuzz_devstack.oauth_testing), as oauth's own tests start it, and the double's on a fresh
sandbox app.

Every SP-API response that passes through a `make_client(...)` client is validated
against the response schema of the vendored Amazon models (an httpx response
hook), so each test is also a contract test of the responses it sees.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import msgspec
import pytest
import pytest_asyncio

# The helpers module sits beside this file; make it importable whatever the
# repository root's import mode is.
sys.path.insert(0, str(Path(__file__).parent))

from keybuzz_devstack.oauth_testing import (  # noqa: F401 - fixtures
    kit,
    lwa_faults,
    make_kit,
    make_module_kit,
    module_kit,
    shared_kit,
)
from keybuzz_sandbox import SandboxConfig, create_app
from keybuzz_sandbox.fixtures import serve, serving  # noqa: F401 - fixture
from sandbox_helpers import CONTRACT, Contract, _validate_response

served_doubles = serving("amazon")  # the double's own tests on a sandbox of it alone


@pytest.fixture
def contract() -> Contract:
    return CONTRACT


ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest_asyncio.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """make_client(config=None, contract=True) -> an httpx client bound to a fresh sandbox app."""
    clients: list[httpx.AsyncClient] = []

    async def factory(
        config: SandboxConfig | None = None, contract: bool = True
    ) -> httpx.AsyncClient:
        config = config or SandboxConfig(time_scale=60)
        if config.serving is None:
            config = msgspec.structs.replace(config, serving=("amazon",))
        app = create_app(config)
        hooks = {"response": [_validate_response]} if contract else {}
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox", event_hooks=hooks
        )
        client.app = app  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()


@pytest_asyncio.fixture
async def client(make_client: ClientFactory) -> httpx.AsyncClient:
    return await make_client()
