"""The shops' HTTP client alone: CPU per request of one httpx client under ``CONCURRENCY``
calls at once, as httpx's defaults build it, with no cap on connections (one pool), and
spread over ``SpreadTransport``'s pools; each with no other call and with ``STALLED``
calls held open by the server (a marketplace's stalled shops).

Set-up: an HTTP/1.1 server on the loopback in this process (asyncio streams), answering
each request after 5–50 ms (a marketplace's answer time) and never answering ``/stall``.
Measured: this process's CPU time (client and server, the server's share the same in each
case) over ``REQUESTS`` requests, divided by them.

``BENCH_HTTP_POOLS_REQUESTS`` (3,000) / ``…_CONCURRENCY`` (32) / ``…_STALLED`` (100).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable

import httpx
from keybuzz_shared.http_pools import SpreadTransport

from bench.harness import BenchContext, Figure

REQUESTS = int(os.environ.get("BENCH_HTTP_POOLS_REQUESTS", "3000"))
CONCURRENCY = int(os.environ.get("BENCH_HTTP_POOLS_CONCURRENCY", "32"))
STALLED = int(os.environ.get("BENCH_HTTP_POOLS_STALLED", "100"))
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/xml\r\n\r\n<ok/>"

CLIENTS: dict[str, Callable[[], httpx.AsyncClient]] = {
    "httpx's defaults (100 connections, 20 kept alive)": lambda: httpx.AsyncClient(timeout=30),
    "one pool, no cap on connections": lambda: httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_connections=None)
    ),
    "SpreadTransport (16 pools, no cap)": lambda: httpx.AsyncClient(
        timeout=30, transport=SpreadTransport(limits=httpx.Limits(max_connections=None))
    ),
}


async def run(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    for name, make in CLIENTS.items():
        alone = await _cpu_per_request(make, stalled=0)
        # httpx's defaults cap connections at 100: stalled calls would take them all.
        held = None if "defaults" in name else await _cpu_per_request(make, STALLED)
        figures.append(
            {
                "name": f"CPU per request, {CONCURRENCY} at once: {name}",
                "value": alone,
                "unit": "µs",
                "note": "client and server; "
                + (f"with {STALLED} calls held open {held:.0f} µs" if held else "alone only"),
            }
        )
    return figures


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while head := await reader.readuntil(b"\r\n\r\n"):
            if b" /stall " in head.split(b"\r\n", 1)[0]:
                await asyncio.sleep(3600)
            await asyncio.sleep(random.uniform(0.005, 0.05))
            writer.write(ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _cpu_per_request(make: Callable[[], httpx.AsyncClient], stalled: int) -> float:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with make() as client:
        held = [asyncio.create_task(client.post(f"{url}/stall")) for _ in range(stalled)]
        await asyncio.sleep(0.5)
        numbers = iter(range(REQUESTS))

        async def caller() -> None:
            for _ in numbers:
                (await client.post(f"{url}/answer", content=b"<q/>")).raise_for_status()

        started = time.process_time()
        await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
        spent = time.process_time() - started
        for call in held:
            call.cancel()
        await asyncio.gather(*held, return_exceptions=True)
    server.close()
    return 1e6 * spent / REQUESTS
