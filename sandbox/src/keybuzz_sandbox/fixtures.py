"""pytest fixtures and helpers for a double's tests, wherever they live (the sandbox's own,
each connector folder's ``tests/``): a sandbox served over HTTP on a free port, and the
arrival times of a trickled answer's bytes. A conftest imports the fixtures it uses."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import pytest
import pytest_asyncio

from .config import SandboxConfig
from .sandbox import Sandbox
from .testing import running_sandbox

ServedFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
def served_doubles() -> tuple[str, ...] | None:
    """The doubles ``serve`` serves unless its config names them: every one, unless a
    conftest overrides this fixture with its folder's own double."""
    return None


def serving(*names: str) -> Any:
    """A conftest's ``served_doubles``: ``served_doubles = serving(<its double's name>)``."""

    @pytest.fixture(name="served_doubles")
    def served() -> tuple[str, ...]:
        return names

    return served


@pytest_asyncio.fixture
async def serve(served_doubles: tuple[str, ...] | None) -> AsyncIterator[ServedFactory]:
    """serve(config=None) -> an httpx client on a sandbox served over HTTP on a free port;
    ``client.sandbox`` is the running Sandbox (for tests that move its clock)."""
    async with contextlib.AsyncExitStack() as stack:

        async def factory(config: SandboxConfig | None = None) -> httpx.AsyncClient:
            seen: list[Sandbox] = []
            config = config or SandboxConfig()
            if config.serving is None:
                config = msgspec.structs.replace(config, serving=served_doubles)
            url = await stack.enter_async_context(running_sandbox(config, seen=seen))
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
            http.sandbox = seen[0]  # type: ignore[attr-defined]
            return http

        yield factory


async def byte_arrivals(response: httpx.Response, sent_at: float, count: int = 4) -> list[float]:
    """Seconds from ``sent_at`` (taken before the request was sent) to each of the first
    ``count`` chunks of a streamed answer, each asserted one byte long (a trickled answer).

    A trickled byte ``k`` cannot arrive before ``sent_at + k * pause``, however late the
    client reads; gaps between reads can shrink on a busy machine, so they are not used."""
    arrivals = []
    async for chunk in response.aiter_raw():
        assert len(chunk) == 1
        arrivals.append(time.perf_counter() - sent_at)
        if len(arrivals) == count:
            break
    return arrivals


def trickled_at_pace(arrivals: list[float], pause: float) -> bool:
    """Whether byte ``k`` came no sooner than ``k`` pauses after the request (10 % slack
    for the sleep's rounding)."""
    return all(at >= k * pause * 0.9 for k, at in enumerate(arrivals))
