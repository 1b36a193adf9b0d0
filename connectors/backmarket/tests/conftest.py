"""The Back Market connector's tests: its client on the session's sandbox (the Back Market
double over HTTP), every request it sends checked against Back Market's OpenAPI
description (the double's reading of it, keybuzz_double_backmarket.contract); the double's own
tests on a sandbox of their own (``serve``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from backmarket_connector_helpers import Checked
from keybuzz_sandbox.fixtures import serve, serving  # noqa: F401 - fixture (the double's tests)

served_doubles = serving("backmarket")  # the double's own tests on a sandbox of it alone


@pytest.fixture
async def checked() -> AsyncIterator[Checked]:
    found = Checked("/backmarket")
    yield found
    assert found.problems == [], "requests Back Market's description would refuse"


@pytest.fixture
async def http(checked: Checked) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, event_hooks={"request": [checked]}) as client:
        yield client


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/backmarket", timeout=30) as http:
        yield http
        await http.delete("/faults")
