"""The eBay connector's tests on the session's sandbox (the eBay double over HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/ebay", timeout=30) as http:
        yield http
        await http.delete("/faults")
