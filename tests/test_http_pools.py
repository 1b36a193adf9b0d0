"""``SpreadTransport`` on a real HTTP server (asyncio, on the loopback): requests held open
are spread evenly over its pools, a pool's connections are kept alive and reused, and
TLS is verified (a server whose certificate nobody vouches for is refused), and a request
that arrived unanswered is never said not to have left."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from keybuzz_shared.addresses import checked_addresses
from keybuzz_shared.http_pools import SpreadTransport

LIMITS = httpx.Limits(max_connections=None)
# What the requester reads as "nothing reached the marketplace" (json_calls ``_exchange``).
NOT_LEFT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass
class Server:
    """Answers at once, but holds ``/stall`` requests until released; counts connections."""

    url: str = ""
    connections: int = 0
    held: int = 0
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # set at each request held
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                if b" /stall " in head.split(b"\r\n", 1)[0]:
                    self.held += 1
                    self.holding.set()
                    await self.release.wait()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _serving(server: Server, tls: ssl.SSLContext | None = None) -> asyncio.Server:
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls)
    port = listening.sockets[0].getsockname()[1]
    server.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    return listening


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    served = Server()
    listening = await _serving(served)
    yield served
    served.release.set()
    listening.close()


def _connections_per_pool(transport: SpreadTransport) -> list[int]:
    return [len(t._pool.connections) for t in transport.transports]


async def test_requests_held_open_are_spread_evenly_over_the_pools(server: Server) -> None:
    transport = SpreadTransport(4, limits=LIMITS)
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        held = [asyncio.create_task(client.get(f"{server.url}/stall")) for _ in range(8)]
        while server.held < 8:
            server.holding.clear()
            await asyncio.wait_for(server.holding.wait(), 10)
        assert _connections_per_pool(transport) == [2, 2, 2, 2]
        server.release.set()
        assert all(r.status_code == 200 for r in await asyncio.gather(*held))


async def test_each_pool_keeps_its_connections_alive(server: Server) -> None:
    async with httpx.AsyncClient(transport=SpreadTransport(4, limits=LIMITS)) as client:
        for _ in range(20):
            assert (await client.get(f"{server.url}/")).text == "ok"
    assert server.connections == 4  # one a pool, reused


def self_signed_for(where: Path, name: str, alt: str) -> tuple[Path, Path]:
    """A key and a certificate for ``name`` (``alt``: its subjectAltName) that no CA
    signed, written under ``where``."""
    key, cert = where / "key.pem", where / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", f"/CN={name}", "-addext", f"subjectAltName={alt}"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return key, cert


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A key and a certificate for 127.0.0.1 that no CA signed."""
    return self_signed_for(tmp_path, "127.0.0.1", "IP:127.0.0.1")


async def test_a_certificate_nobody_vouches_for_is_refused(self_signed: tuple[Path, Path]) -> None:
    key, cert = self_signed
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    served = Server()
    listening = await _serving(served, tls)
    try:
        async with httpx.AsyncClient(transport=SpreadTransport(2, limits=LIMITS)) as client:
            for _ in range(2):  # each pool
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(f"{served.url}/")
        trusted = ssl.create_default_context(cafile=str(cert))
        transport = SpreadTransport(2, limits=LIMITS, verify=trusted)
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get(f"{served.url}/")).text == "ok"
    finally:
        listening.close()


async def test_a_request_that_arrived_unanswered_is_never_said_to_have_not_left() -> None:
    # The requester sends a call again after a connection error (nothing left) but never
    # a send that may have arrived (json_calls ``_exchange``): whatever transport the
    # poller's client runs on, a request read by the server whose connection then drops
    # must be a transport error other than a connection's. httpx-aiohttp 0.2 raises it as
    # ``ConnectTimeout``: a reply would be sent twice.
    arrived: list[bytes] = []

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        arrived.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    listening = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    transport = SpreadTransport(limits=LIMITS, addresses=checked_addresses(inside_allowed=True))
    try:
        async with httpx.AsyncClient(transport=transport, timeout=5) as http:
            with pytest.raises(httpx.TransportError) as dropped:
                await http.post(f"http://127.0.0.1:{port}/reply", content=b"hello")
    finally:
        listening.close()
    assert arrived and arrived[0].startswith(b"POST /reply ")
    assert not isinstance(dropped.value, NOT_LEFT), type(dropped.value)
