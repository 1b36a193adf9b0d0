"""Files a marketplace's message links, fetched only where the marketplace serves them.

A link comes in the marketplace's answer, so whoever writes that answer chooses where we
connect: OpenBao on loopback, a cloud's metadata service (169.254.169.254), a database on
the private network. A link is fetched only when its origin (scheme, host, port) is one
the connector declares for its marketplace, and only from public addresses: the host is
resolved once, every address it resolves to is checked, and the connection goes to the
address checked (the host name kept for ``Host`` and TLS), so a second answer of the DNS
cannot swap in another. Redirects are not followed. The body is read as it streams and
dropped at the size cap.

Development and tests run the marketplace's double on loopback: outside production a
declared origin may resolve to such an address, and production refuses to declare one
(``production_problem``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Origin = tuple[str, str, int]  # scheme, host (lower case), port
DEFAULT_PORTS = {"http": 80, "https": 443}


class LinkRefused(Exception):
    """The link is not fetched: not a declared origin, or an address inside our network."""


class FileTooLarge(Exception):
    """The file is larger than the cap; what was read is dropped."""


class FileUnavailable(Exception):
    """The file server answered, without the file (``status``: its HTTP status)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def origin_of(url: str) -> Origin:
    """The origin of an http(s) URL; ValueError for anything else."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ValueError("not a web address") from None
    scheme = parsed.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parsed.host:
        raise ValueError("not a web address")
    return scheme, parsed.host.lower(), parsed.port or DEFAULT_PORTS[scheme]


def shown(origin: Origin) -> str:
    scheme, host, port = origin
    return f"{scheme}://{host}:{port}"


def is_public(address: Address) -> bool:
    """Whether an address is on the internet at large: not loopback, link-local, private,
    shared (CGNAT), multicast, reserved or unspecified, an IPv4 address written as IPv6
    judged as the IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or _nat64(address)
        if inner is not None:
            return is_public(inner)
    return address.is_global and not address.is_multicast


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def production_problem(url: str) -> str | None:
    """Why ``url`` cannot be a declared origin in production, or None: not https, or a
    host that names our own network (localhost, a loopback, link-local or private
    address)."""
    try:
        scheme, host, _ = origin_of(url)
    except ValueError:
        return "is not an http(s) address"
    if scheme != "https":
        return "must be https://"
    if host == "localhost" or host.endswith(".localhost"):
        return "names this machine"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return None if is_public(address) else "is an address inside our network"


async def resolved(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (an address as itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise LinkRefused(f"{host} does not resolve ({exc})") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses:
        raise LinkRefused(f"{host} does not resolve")
    return list(dict.fromkeys(addresses))


class FileLinks:
    """Where one marketplace's files may be fetched from, and the fetch itself (a shop
    session's ``file``, with the session's auth where the marketplace wants it)."""

    def __init__(self, origins: Iterable[str], *, inside_allowed: bool) -> None:
        self.origins = frozenset(origin_of(url) for url in origins)
        # Outside production: a declared origin may be on loopback or the private network.
        self.inside_allowed = inside_allowed

    async def address(self, url: str) -> tuple[Origin, Address]:
        """The link's origin and the address to connect to; LinkRefused when not allowed."""
        try:
            origin = origin_of(url)
        except ValueError:
            raise LinkRefused("not a web address") from None
        if origin not in self.origins:
            raise LinkRefused(f"{shown(origin)} is not an origin the marketplace serves files from")
        addresses = await resolved(origin[1], origin[2])
        inside = [a for a in addresses if not is_public(a)]
        if inside and not self.inside_allowed:
            raise LinkRefused(f"{origin[1]} resolves to {inside[0]}, an address inside our network")
        return origin, addresses[0]

    async def fetch(
        self,
        http: httpx.AsyncClient,
        url: str,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """The file's bytes. LinkRefused, FileTooLarge, FileUnavailable (not 200) or
        httpx's errors (unreachable, 5xx is FileUnavailable too). ``headers`` go with the
        request (a marketplace whose files need its token), to a declared origin only."""
        (scheme, host, port), address = await self.address(url)
        default = DEFAULT_PORTS[scheme] == port
        request = http.build_request(
            "GET",
            httpx.URL(url).copy_with(host=str(address)),
            headers={**(headers or {}), "Host": host if default else f"{host}:{port}"},
            # TLS is verified against the host name, not the address connected to.
            extensions={"sni_hostname": host},
        )
        response = await http.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code != 200:
                raise FileUnavailable(response.status_code)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FileTooLarge(f"{declared} bytes")
            content = bytearray()
            async for chunk in response.aiter_bytes():
                content += chunk
                if len(content) > max_bytes:
                    raise FileTooLarge(f"over {max_bytes} bytes")
            return bytes(content)
        finally:
            await response.aclose()


NO_FILES = FileLinks((), inside_allowed=False)  # a session given no origin fetches nothing
