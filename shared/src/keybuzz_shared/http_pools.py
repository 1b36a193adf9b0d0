"""An httpx transport over several connection pools, for a client that many tasks call at
once (the poller's shop polls: ``SHOP_POLL_CONCURRENCY`` healthy ones, and slow ones beside).

httpcore's pool re-examines every connection it holds for every request waiting, each
time a request starts or a response ends; and its idle-connection check counts all of
them again for each idle one. One pool under 32 calls at once, with tens of connections
held open by stalled servers, spent more CPU choosing connections than sending the
requests (docs/BENCHMARKS.md, ``bench_slow_shops``). Requests taken in turn by small pools
keep each pool's waiting requests and connections few; keep-alive still works within each.
"""

from __future__ import annotations

import itertools
import ssl

import httpx

from keybuzz_shared.addresses import CheckedAddresses, checked_transport
from keybuzz_shared.tls import verifying

SPREAD_POOLS = 16  # enough that SHOP_POLL_CONCURRENCY's calls meet a few others per pool


class SpreadTransport(httpx.AsyncBaseTransport):
    """``pools`` transports, each request to the next in turn; one TLS context for all,
    verified as httpx verifies by default (``verify`` True) unless given another;
    ``addresses``: every connection checked (addresses a marketplace's data gives)."""

    def __init__(
        self,
        pools: int = SPREAD_POOLS,
        *,
        limits: httpx.Limits,
        verify: ssl.SSLContext | None = None,
        addresses: CheckedAddresses | None = None,
    ) -> None:
        context = verify if verify is not None else verifying()
        self.transports = [
            httpx.AsyncHTTPTransport(verify=context, limits=limits) for _ in range(pools)
        ]
        if addresses is not None:
            for transport in self.transports:
                checked_transport(transport, addresses)
        self._next = itertools.cycle(self.transports)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await next(self._next).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self.transports:
            await transport.aclose()
