"""Files a marketplace's message links, fetched only where the marketplace serves them.

A link comes in the marketplace's answer, so whoever writes that answer chooses where we
connect: OpenBao on loopback, a cloud's metadata service (169.254.169.254), a database on
the private network, or another path of the marketplace's own host. A link is fetched
only when its path names no other (``dot_segments``: ``..``, encoded or behind a
backslash, for every connector), its origin (scheme, host, port) is one the connector
declares for its marketplace, and only from public addresses (``addresses.py``): the host
is resolved once, every address it resolves to is checked, and the connection goes to the
address checked (the host name kept for ``Host`` and TLS), so a second answer of the DNS
cannot swap in another. Redirects are not followed. The body is read as it streams and
dropped at the size cap.

Development and tests run the marketplace's double on loopback: outside production a
declared origin may resolve to such an address, and production refuses to declare one
(``production_problem``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

import httpx

from keybuzz_shared.addresses import (
    Address,
    AddressRefused,
    checked_addresses,
    is_public,
    literal_address,
    names_this_machine,
)

Origin = tuple[str, str, int]  # scheme, host (lower case), port
DEFAULT_PORTS = {"http": 80, "https": 443}
# A DNS name as a URL carries it (IDNA already applied): letters, digits, hyphens, dots.
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?")


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
    if names_this_machine(host):
        return "names this machine"
    address = literal_address(host)
    if address is not None:
        return None if is_public(address) else "is an address inside our network"
    if not _HOST_NAME.fullmatch(host):  # e.g. an address percent-encoded past the decoder
        return "is neither an address nor a host name"
    return None  # a name: judged by its addresses when called (``addresses``)


def dot_segments(url: str) -> bool:
    """Whether ``url``'s path names its way up or in place, as any server may read it:
    a ``.`` or ``..`` segment, plain or percent-encoded (once or more), a backslash (or its
    encoding) read as a slash, a segment's ``;`` parameters dropped. A file's link names
    the file, never a way to another path on its host."""
    path = urlsplit(url).path
    for _ in range(4):  # encoded again and again: read as often as a server might
        path = unquote(path)
    segments = path.replace("\\", "/").split("/")
    return any(segment.split(";")[0].strip() in (".", "..") for segment in segments)


class FileLinks:
    """Where one marketplace's files may be fetched from, and the fetch itself (a shop
    session's ``file``, with the session's auth where the marketplace wants it)."""

    def __init__(self, origins: Iterable[str], *, inside_allowed: bool) -> None:
        self.origins = frozenset(origin_of(url) for url in origins)
        # Outside production: a declared origin may be on loopback or the private network.
        self.checked = checked_addresses(inside_allowed=inside_allowed)

    def joined(self, base: httpx.URL, link: str) -> str:
        """``link`` (a URL, or a path under ``base``) as the URL to fetch; LinkRefused for
        one whose path names another, judged before joining resolves its dot segments."""
        if dot_segments(link):
            raise LinkRefused("its path names another (dot segments)")
        return str(base.join(link))

    async def address(self, url: str) -> tuple[Origin, Address]:
        """The link's origin and the address to connect to; LinkRefused when not allowed."""
        try:
            origin = origin_of(url)
        except ValueError:
            raise LinkRefused("not a web address") from None
        if dot_segments(url):
            raise LinkRefused("its path names another (dot segments)")
        if origin not in self.origins:
            raise LinkRefused(f"{shown(origin)} is not an origin the marketplace serves files from")
        try:
            addresses = await self.checked.addresses(origin[1], origin[2])
        except AddressRefused as exc:
            raise LinkRefused(str(exc)) from None
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
