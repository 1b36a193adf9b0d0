"""Fixtures for the sandbox's tests: a client of a fresh sandbox app (every installed double
mounted)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from keybuzz_sandbox import SandboxConfig, create_app


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SandboxConfig(time_scale=60))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client
