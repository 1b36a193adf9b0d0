"""The Rakuten connector's tests: its client on the session's sandbox (the Rakuten double
over HTTP), its mappings without a server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox", timeout=30) as http:
        yield http
        await http.delete("/rakuten/faults")
        await http.delete("/echo-secret")
