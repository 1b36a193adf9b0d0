"""Data-given addresses checked as they are called (``keybuzz_shared.addresses``): every
spelling of an address inside our network refused, in the catalogue's check and when a
connection is made; a name judged by what it resolves to at that moment, and the
connection pinned to the address checked, TLS still verifying the host name.

Only loopback is ever connected to (a listener of the test's own); a private or
link-local spelling is judged without a connection."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import httpx
import msgspec
import pytest
from keybuzz_oauth.adapters import ShopVerifier
from keybuzz_orders.service import HttpClients
from keybuzz_orders.settings import OrdersSettings
from keybuzz_poller.shops.api_source import ApiMessageSource
from keybuzz_shared.addresses import (
    Address,
    AddressRefused,
    CheckedAddresses,
    checked_addresses,
    checked_transport,
    data_client,
    is_public,
    refusal,
)
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.file_links import FileLinks, LinkRefused, production_problem
from keybuzz_shared.vault import VaultClient

from tests.test_http_pools import self_signed_for

# Each a spelling of an address inside our network a URL's host may take.
LOOPBACK_SPELLINGS = [
    "127.1",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "127.0.0.1.",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::1]",
    "localhost",  # a name in /etc/hosts
    "LocalHost",
]
INSIDE_SPELLINGS = [
    *LOOPBACK_SPELLINGS,
    "10.1",
    "10.0.0.1.",
    "167772161",  # 10.0.0.1
    "2852039166",  # 169.254.169.254, a cloud's metadata service
    "0xa9fea9fe",
    "0251.0376.0251.0376",  # octal
    "169.254.43518",
    "100.64.0.1",  # CGNAT
    "0.0.0.0",
    "0",
    "224.0.0.1",
    "240.0.0.1",
    "[::]",
    "[fe80::1]",
    "[fe80::1%25eth0]",
    "[fc00::1]",
    "[ff02::1]",
    "[::127.0.0.1]",  # IPv4-compatible
    "[::a9fe:a9fe]",
    "[::ffff:0:a00:1]",  # IPv4-translated
    "[2002:a9fe:a9fe::]",  # 6to4
    "[64:ff9b::a9fe:a9fe]",  # NAT64
    "[64:ff9b:1::a00:1]",  # local-use NAT64
    "%31%32%37.0.0.1",  # percent-encoded
]
STATIC_ONLY = ["localhost.", "files.localhost.", "0177.0.0.1"]  # refused by their spelling


@pytest.mark.parametrize("host", INSIDE_SPELLINGS + STATIC_ONLY)
def test_production_refuses_every_spelling_of_an_inside_address(host: str) -> None:
    assert production_problem(f"https://{host}/api") is not None


@pytest.mark.parametrize(
    "url", ["https://①②⑦.0.0.1/", "https://ＬＯＣＡＬＨＯＳＴ/", "https://127.0.0.1%2f/"]
)
def test_an_idna_spelling_of_an_inside_address_is_refused(url: str) -> None:
    assert production_problem(url) is not None


@pytest.mark.parametrize(
    "host", ["8.8.8.8", "134744072", "metro-prod.mirakl.net", "[2606:4700::1]"]
)
def test_production_accepts_a_public_address_or_a_name(host: str) -> None:
    assert production_problem(f"https://{host}/api") is None


@pytest.mark.parametrize("address", ["::a9fe:a9fe", "::ffff:0:a00:1", "64:ff9b:1::a00:1"])
def test_an_ipv4_address_inside_written_as_ipv6_is_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("host", INSIDE_SPELLINGS)
async def test_every_spelling_of_an_inside_address_is_refused_when_called(host: str) -> None:
    """Judged by the addresses it resolves to, as the connection would be made."""
    with pytest.raises(AddressRefused, match="an address inside our network"):
        await checked_addresses(inside_allowed=False).addresses(host, 443)


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(AddressRefused, match="does not resolve"):
        await checked_addresses(inside_allowed=False).addresses("nowhere.invalid", 443)


@asynccontextmanager
async def listener(
    host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[int, list[str]]]:
    """An HTTP server of the test's own on loopback: its port, and each connection's
    request line, with its ``Host`` after a space."""
    seen: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        named = [line.split(":", 1)[1].strip() for line in head if line.lower().startswith("host:")]
        seen.append(" ".join([head[0], *named]))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, host, port, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_a_data_given_address_on_loopback_is_never_connected_in_production(
    host: str,
) -> None:
    async with listener() as (port, seen):
        async with data_client(5, inside_allowed=False) as http:
            with pytest.raises(httpx.ConnectError) as raised:
                await http.get(f"http://{host}:{port}/v1/sys/seal-status")
        assert "an address inside our network" in (refusal(raised.value) or "")
        if "[" not in host:  # the listener is IPv4's
            async with data_client(5, inside_allowed=True) as http:  # development's allowance
                assert (await http.get(f"http://{host}:{port}/f")).text == "ok"
    assert not any("seal-status" in line for line in seen)  # the refused call reached nothing


async def test_the_services_clients_of_data_given_addresses_check_them() -> None:
    """The poller's client of each marketplace (its shop API, its files), oauth's
    credential checks and orders' shop API clients: in production, a catalogue's host on
    loopback reaches nothing."""
    vault = cast(VaultClient, None)  # never asked: no shop is polled here
    apis = {"BOULANGER": MarketplaceSettings().shop_api("BOULANGER")}
    source = ApiMessageSource(vault, apis, inside_allowed=False)
    verifier = ShopVerifier(apis, inside_allowed=False)
    orders = HttpClients.of(msgspec.structs.replace(OrdersSettings(), keybuzz_env="production"))
    async with listener() as (port, seen):
        try:
            for http in (source.http("BOULANGER"), verifier.http, orders.shop_apis["BOULANGER"]):
                with pytest.raises(httpx.ConnectError, match="inside our network"):
                    await http.get(f"http://127.1:{port}/api/account")
        finally:
            await source.aclose()
            await verifier.aclose()
            await orders.aclose()
    assert seen == []


class Flipping:
    """A DNS that answers ``first`` once, then ``then`` (a rebinding name)."""

    def __init__(self, first: str, then: str) -> None:
        self.answers = [ipaddress.ip_address(first), ipaddress.ip_address(then)]
        self.asked = 0

    async def __call__(self, host: str, port: int) -> list[Address]:
        self.asked += 1
        return [self.answers[min(self.asked, 2) - 1]]


async def test_a_connection_goes_to_the_address_checked_and_each_is_checked_anew() -> None:
    """The name resolved once a connection, checked, and connected to as checked: a DNS
    answering another address next reaches nothing through that connection, and the next
    connection is judged by the new answer (here refused)."""
    dns = Flipping("127.0.0.1", "127.0.0.2")
    accepted = ipaddress.ip_address("127.0.0.1")
    backend = CheckedAddresses(lambda address: address == accepted, resolve=dns)
    async with listener("127.0.0.1") as (port, first), listener("127.0.0.2", port) as (_, other):
        transport = httpx.AsyncHTTPTransport()
        checked_transport(transport, backend)
        async with httpx.AsyncClient(transport=transport) as http:
            assert (await http.get(f"http://rebinding.test:{port}/a")).text == "ok"
            with pytest.raises(httpx.ConnectError, match="127.0.0.2, an address inside"):
                await http.get(f"http://rebinding.test:{port}/b")
    assert (first, other, dns.asked) == ([f"GET /a HTTP/1.1 rebinding.test:{port}"], [], 2)


async def test_tls_verifies_the_host_name_while_connecting_to_the_address_checked(
    tmp_path: Path,
) -> None:
    key, cert = self_signed_for(tmp_path, "files.test", "DNS:files.test")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)

    async def loopback(host: str, port: int) -> list[Address]:
        return [ipaddress.ip_address("127.0.0.1")]

    transport = httpx.AsyncHTTPTransport(verify=ssl.create_default_context(cafile=str(cert)))
    checked_transport(transport, CheckedAddresses(lambda _: True, resolve=loopback))
    async with listener(tls=tls) as (port, seen), httpx.AsyncClient(transport=transport) as http:
        assert (await http.get(f"https://files.test:{port}/f")).text == "ok"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(f"https://other.test:{port}/f")  # same address, another name
    assert seen == [f"GET /f HTTP/1.1 files.test:{port}"]


@pytest.mark.parametrize(
    "path",
    [
        "files/../_sandbox/fnac/shops",
        "files/%2e%2e/_sandbox/fnac/shops",
        "files/%2E%2E/_sandbox",
        "files/.%2e/_sandbox",
        "files/%252e%252e/_sandbox",  # encoded twice
        "files/..\\_sandbox",
        "files/..%5c_sandbox",
        "files/..%5C_sandbox",
        "files/..;/_sandbox",
        "files/./photo.jpg",
        "files/%2e/photo.jpg",
    ],
)
async def test_a_link_naming_another_path_of_its_host_is_refused(path: str) -> None:
    """For every connector: the link on the declared origin, its path normalised before
    it is judged."""
    origin = "http://127.0.0.1:8900"
    links = FileLinks([origin], inside_allowed=True)
    with pytest.raises(LinkRefused, match="dot segments"):
        await links.address(f"{origin}/{path}")
    # Before a session joins it onto its API's address, which resolves plain dot segments.
    for link in (f"{origin}/{path}", path):
        with pytest.raises(LinkRefused, match="dot segments"):
            links.joined(httpx.URL(f"{origin}/api/"), link)


async def test_a_file_named_with_dots_inside_a_segment_is_fetched() -> None:
    async with listener() as (port, seen):
        links = FileLinks([f"http://127.0.0.1:{port}"], inside_allowed=True)
        async with httpx.AsyncClient() as http:
            assert await links.fetch(http, f"http://127.0.0.1:{port}/f/a..b.pdf", 10) == b"ok"
    assert seen == [f"GET /f/a..b.pdf HTTP/1.1 127.0.0.1:{port}"]


@pytest.mark.parametrize("host", ["127.1", "2130706433", "[::ffff:7f00:1]", "localhost"])
async def test_a_link_to_a_declared_origin_on_loopback_is_refused_in_production(
    host: str,
) -> None:
    declared = f"http://{host}:8900"
    with pytest.raises(LinkRefused, match="inside our network"):
        await FileLinks([declared], inside_allowed=False).address(f"{declared}/f.pdf")
