"""Where a marketplace message's linked files may be fetched from (``file_links.py``): only
a declared origin, never an address inside our network once the host is resolved, and in
production no declared origin naming our own network."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import msgspec
import pytest
from keybuzz_connector_fnac.connector import FnacApiSettings
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.addresses import is_public
from keybuzz_shared.file_links import (
    NO_FILES,
    FileLinks,
    FileTooLarge,
    LinkRefused,
    production_problem,
)
from keybuzz_shared.settings import SettingsError, env_name, load_settings


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "169.254.169.254",  # a cloud's metadata service
        "fe80::1",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "::",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped IPv6
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "224.0.0.1",
    ],
)
def test_addresses_inside_our_network_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "172.32.0.1", "172.15.255.255", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_addresses_on_the_internet_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


PRODUCTION = {"inside_allowed": False}


@pytest.mark.parametrize(
    ("declared", "link", "why"),
    [
        ("http://localhost:8200", "http://localhost:8200/v1/sys/seal-status", "resolves to"),
        ("http://127.0.0.1:8200", "http://127.0.0.1:8200/v1/sys/seal-status", "resolves to"),
        ("http://[::1]:8200", "http://[::1]:8200/v1/sys/seal-status", "resolves to"),
        ("http://169.254.169.254", "http://169.254.169.254/latest/meta-data/", "resolves to"),
        ("https://10.1.2.3", "https://10.1.2.3/f", "resolves to"),
        ("https://[::ffff:7f00:1]", "https://[::ffff:7f00:1]/f", "resolves to"),
        ("https://files.fnac.test", "https://8.8.8.8/f", "not an origin"),
        ("https://8.8.8.8", "http://8.8.8.8/f", "not an origin"),  # another scheme
        ("https://8.8.8.8", "https://8.8.8.8:8443/f", "not an origin"),  # another port
        ("https://8.8.8.8", "file:///etc/passwd", "not a web address"),
    ],
)
async def test_a_link_is_refused_outside_the_declared_public_origins(
    declared: str, link: str, why: str
) -> None:
    with pytest.raises(LinkRefused, match=why):
        await FileLinks([declared], **PRODUCTION).address(link)


async def test_a_link_on_a_declared_public_origin_connects_to_the_address_checked() -> None:
    links = FileLinks(["https://8.8.8.8"], **PRODUCTION)
    origin, address = await links.address("https://8.8.8.8:443/files/f.pdf")
    assert (origin, address) == (("https", "8.8.8.8", 443), ipaddress.ip_address("8.8.8.8"))


async def test_outside_production_only_the_declared_origin_may_be_on_loopback() -> None:
    links = FileLinks(["http://127.0.0.1:8900"], inside_allowed=True)
    await links.address("http://127.0.0.1:8900/fnac/files/S/F")
    with pytest.raises(LinkRefused, match="not an origin"):
        await links.address("http://127.0.0.1:8200/v1/sys/seal-status")


@pytest.mark.parametrize(
    "setting",
    [
        {"api_url": "http://127.0.0.1:8900/fnac/api.php/"},  # the default origin
        {"attachment_origins": "https://files.fnac.com, https://10.0.0.5"},
        {"attachment_origins": "https://localhost"},
        {"attachment_origins": "http://files.fnac.com"},
    ],
)
def test_production_refuses_an_origin_inside_our_network_or_in_clear(
    setting: dict[str, str],
) -> None:
    with pytest.raises(msgspec.ValidationError, match="refused when KEYBUZZ_ENV=production"):
        msgspec.convert({"keybuzz_env": "production"} | setting, FnacApiSettings)
    assert msgspec.convert(setting, FnacApiSettings)  # development runs the double so
    # The poller reads them with its own settings: refused at its start.
    variables = {env_name(FnacApiSettings, k): v for k, v in setting.items()}  # FNAC_API_URL
    environ = {"KEYBUZZ_ENV": "production"} | variables
    with pytest.raises(SettingsError, match="refused when KEYBUZZ_ENV=production"):
        load_settings(PollerSettings, environ)


def test_the_declared_origins_default_to_the_apis() -> None:
    settings = msgspec.convert({"api_url": "http://127.0.0.1:8900/api/"}, FnacApiSettings)
    assert settings.file_origins == ("http://127.0.0.1:8900",)
    production = msgspec.convert({"keybuzz_env": "production"}, FnacApiSettings)
    assert production.file_origins == ("https://vendeur.fnac.com:443",)
    assert production_problem("https://vendeur.fnac.com") is None


async def test_a_file_streamed_without_its_length_is_dropped_at_the_cap() -> None:
    """A server that sends forever, chunked: the fetch stops at the cap, long before."""
    sent = 0

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 16_384
        try:
            while sent < 64 * 2**20:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                sent += len(chunk)
        except ConnectionError:
            pass
        writer.close()

    server = await asyncio.start_server(endless, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    links = FileLinks([f"http://127.0.0.1:{port}"], inside_allowed=True)
    async with server, httpx.AsyncClient(timeout=10) as http:
        with pytest.raises(FileTooLarge):
            await links.fetch(http, f"http://127.0.0.1:{port}/f", 100_000)
    assert sent < 8 * 2**20  # stopped reading: the server could not send 64 MiB


async def test_a_sessions_file_goes_with_its_headers_to_a_declared_origin_only() -> None:
    """A shop session fetches its messages' files with its auth (``headers``): they reach
    the declared origin, and a link off it is refused before any connection."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfile")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    links = FileLinks([f"http://127.0.0.1:{port}"], inside_allowed=True)
    token = {"Authorization": "Bearer shop-token"}
    async with server, httpx.AsyncClient(timeout=10) as http:
        assert await links.fetch(http, f"http://127.0.0.1:{port}/f", 100, token) == b"file"
        with pytest.raises(LinkRefused):
            await links.fetch(http, f"http://localhost:{port}/f", 100, token)
        with pytest.raises(LinkRefused):
            await NO_FILES.fetch(http, f"http://127.0.0.1:{port}/f", 100, token)
    assert len(seen) == 1 and b"authorization: bearer shop-token" in seen[0].lower()
