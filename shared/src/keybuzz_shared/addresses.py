"""Where a data-given address may be connected to: an address on the internet at large,
never one inside our network, however it is spelled, judged as it is called.

A catalogue's base URL, a message's file link, any address a marketplace's answer or an
operator's file gives, chooses where we connect: OpenBao on loopback, a cloud's metadata
service (169.254.169.254), a database on the private network. A host may be spelled many
ways that name one of those (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
``[::ffff:7f00:1]``, ``localhost.``), and a name may resolve to one, now or only at the
next answer of its DNS. So the check is not made on the spelling but on the addresses, when
the connection is made: ``CheckedAddresses`` (the network backend of the clients that call
data-given addresses) resolves the host once, refuses the connection when any address it
resolves to is inside (``is_public``), and connects to an address it checked. The host
name stays the request's: TLS verifies it (SNI and certificate), never switched off.

Development and tests run the marketplaces' doubles on loopback: outside production every
address is accepted (``inside_allowed``), and the same backend resolves and pins.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import unquote

import httpcore
import httpx

from keybuzz_shared.tls import verifying

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[Address]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: a network's own
_COMPATIBLE = ipaddress.IPv6Network("::/96")  # IPv4-compatible (deprecated)
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # IPv4-translated (SIIT)


class AddressRefused(httpcore.ConnectError):
    """No connection made: the host resolves to an address inside our network, or not at
    all. An httpcore error, so that httpx raises it as ``httpx.ConnectError`` (its
    ``__cause__``) where a client calls: nothing reached anyone."""


def is_public(address: Address) -> bool:
    """Whether an address is on the internet at large: not loopback, link-local, private,
    shared (CGNAT, 100.64/10), multicast, reserved or unspecified; an IPv4 address written
    as IPv6 (mapped, compatible, translated, 6to4, NAT64) judged as the IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return False
        inner = address.ipv4_mapped or address.sixtofour or _embedded(address)
        if inner is not None:
            return is_public(inner)
    return address.is_global and not address.is_multicast


def _embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address in the last 32 bits of a NAT64, compatible or translated form."""
    if any(address in net for net in (_NAT64, _COMPATIBLE, _TRANSLATED)):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def literal_address(host: str) -> Address | None:
    """The address ``host`` spells without a resolver, in any spelling the C library or a
    browser reads (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``, brackets,
    a zone, a trailing dot, percent-encoding); None for a name."""
    bare = unquote(host).strip().strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(bare.split("%")[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except (OSError, ValueError):
        return None


def names_this_machine(host: str) -> bool:
    """``localhost`` or a name under it, with or without its final dot (RFC 6761)."""
    name = unquote(host).strip().lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


async def resolved(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to, each once (an address as itself, in any
    spelling); AddressRefused when it resolves to none."""
    if (literal := literal_address(host)) is not None:
        return [literal]
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"{host} does not resolve ({exc})") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses:
        raise AddressRefused(f"{host} does not resolve")
    return list(dict.fromkeys(addresses))


def refusal(exc: BaseException) -> str | None:
    """What refused the connection, where an address check did (``exc`` as httpx raised
    it, or as the backend did); None for any other failure."""
    for found in (exc, exc.__cause__, exc.__context__):
        if isinstance(found, AddressRefused):
            return str(found)
    return None


class CheckedAddresses(httpcore.AsyncNetworkBackend):
    """A network backend that connects only to addresses ``accept`` accepts: the host
    resolved once (``resolve``), every address checked, then each in turn connected to
    until one answers. httpcore starts TLS on the stream with the request's host name."""

    def __init__(
        self,
        accept: Callable[[Address], bool],
        resolve: Resolver = resolved,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.accept = accept
        self.resolve = resolve
        self.network = network or httpcore.AnyIOBackend()

    async def addresses(self, host: str, port: int, within: float | None = None) -> list[Address]:
        """The addresses to connect to, resolved ``within`` seconds; AddressRefused naming
        the first one refused."""
        try:
            async with asyncio.timeout(within):
                found = await self.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"{host} did not resolve in time") from None
        if refused := [a for a in found if not self.accept(a)]:
            raise AddressRefused(f"{host} resolves to {refused[0]}, an address inside our network")
        return found

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for address in await self.addresses(host, port, timeout):
            try:
                return await self.network.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None  # addresses() names one at least
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("a data-given address is never a local socket")

    async def sleep(self, seconds: float) -> None:
        await self.network.sleep(seconds)


def checked_addresses(*, inside_allowed: bool) -> CheckedAddresses:
    """The backend of a client of data-given addresses: public ones only, unless
    ``inside_allowed`` (outside production, where the doubles run on loopback)."""
    return CheckedAddresses((lambda _: True) if inside_allowed else is_public)


def checked_transport(transport: httpx.AsyncHTTPTransport, backend: CheckedAddresses) -> None:
    """``transport``'s connections made by ``backend`` (httpx takes no network backend of
    its own: its pool's is replaced before any connection exists)."""
    transport._pool._network_backend = backend


def data_client(timeout: float | httpx.Timeout, *, inside_allowed: bool) -> httpx.AsyncClient:
    """A client for data-given addresses (a shop's API at a catalogue's address, its
    files): every connection checked as it is made; TLS verified as httpx verifies."""
    transport = httpx.AsyncHTTPTransport(verify=verifying())
    checked_transport(transport, checked_addresses(inside_allowed=inside_allowed))
    return httpx.AsyncClient(timeout=timeout, transport=transport)
