"""Bench only (``bench_poll_floor``'s poller windows beside the poller as it is): a poller
started with this folder on ``PYTHONPATH`` and

- ``BENCH_POLLER_TRANSPORT=httpx-aiohttp`` makes its marketplace clients (the ones given
  checked ``addresses``) on httpx-aiohttp's transport, the same httpx client and API above
  it; Vault's client stays as it is;
- ``BENCH_POLLER_EBAY_APP_UNCACHED=1`` reads an eBay app entry found missing again at
  every poll, as before it was kept (the cut measured in the same run);
- ``BENCH_POLLER_PROTOCOL_CHECKS_UNKEPT=1`` answers each runtime protocol's ``isinstance``
  anew at every ask, the requester's signing at every call, as before
  ``protocol_checks`` kept them (the cut measured in the same run).

Python imports a ``sitecustomize`` on its path at start-up, before ``keybuzz_poller``."""

from __future__ import annotations

import os
from typing import Any

if os.environ.get("BENCH_POLLER_TRANSPORT") == "httpx-aiohttp":
    import aiohttp
    from httpx_aiohttp import AiohttpTransport
    from keybuzz_shared import http_pools

    spread = http_pools.SpreadTransport

    def _transport(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("addresses") is None:
            return spread(*args, **kwargs)
        transport = AiohttpTransport()

        def session() -> aiohttp.ClientSession:  # no cap, as the poller's pools
            connector = aiohttp.TCPConnector(limit=0, ssl=transport.ssl_context)
            return aiohttp.ClientSession(connector=connector)

        transport.client = session
        return transport

    http_pools.SpreadTransport = _transport  # type: ignore[misc,assignment]

if os.environ.get("BENCH_POLLER_EBAY_APP_UNCACHED") == "1":
    from keybuzz_shared.connectors.shop_sessions import KeptApp

    kept_read = KeptApp.kept

    async def _read(self: Any, vault: Any, path: str) -> Any:
        found = await kept_read(self, vault, path)
        if not found:  # missing: forgotten, asked again at the next poll
            self._copies.get(vault, {}).pop(path, None)
        return found

    KeptApp.kept = _read  # type: ignore[method-assign]

if os.environ.get("BENCH_POLLER_PROTOCOL_CHECKS_UNKEPT") == "1":
    from keybuzz_shared import protocol_checks
    from keybuzz_shared.connectors.kit import requester
    from keybuzz_shared.connectors.kit.auth import SignsRequests

    class _Unkept(dict[tuple[type, type], bool]):
        def __setitem__(self, key: tuple[type, type], value: bool) -> None:
            pass  # nothing kept: every ask walks the protocol again

    protocol_checks._ANSWERS = _Unkept()

    def _signing(self: Any) -> Any:
        return self.auth.sign if isinstance(self.auth, SignsRequests) else requester.USE_DEFAULT

    requester.Requester._signing = property(_signing, lambda self, value: None)  # type: ignore[assignment]
