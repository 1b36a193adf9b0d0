"""A connector serving many instances of one API (one platform's operators), each one a
marketplace of its own, from a catalogue: data, not code; and the instance an entry's
address reaches, as the marketplace knows it (a shop's identity on that instance)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Generic, Protocol, TypeVar

import httpx
import msgspec

from keybuzz_shared.file_links import origin_of, production_problem
from keybuzz_shared.settings import PRODUCTION_LIKE

# The packaged document (a JSON list, one entry per instance) lists those known at release;
# two variables override and extend it, entries replacing the packaged ones by ``code``: an
# inline JSON list (how the dev stack points the seeded instances at the sandbox's double)
# and a file read at every call (how an instance is added to running services without a
# release). Both are read from the process environment when asked (``entries()``), before
# any service settings exist.
#
# A file that is missing or invalid leaves the last good reading of it in force, with one
# log line per new problem: a typo in the file never takes an instance offline. An entry's
# address is refused where it holds credentials or is not http(s), and, production-like, one
# not https or inside our network (loopback, link-local, private) in any spelling of the
# address (``127.1``, ``2130706433``, ``0x7f000001``, ``[::ffff:7f00:1]``, ``localhost.``…).
# A name is judged by what it resolves to when it is called: the clients of the services
# that call an instance connect only to the public addresses they checked
# (``keybuzz_shared.addresses``, docs/SECURITY.md).

log = logging.getLogger(__name__)

# A catalogue lists a few dozen instances in a few kilobytes: a file larger than this is a
# mistake or an attack, refused without being read whole.
MAX_CATALOGUE_BYTES = 1024 * 1024


class Entry(Protocol):
    """One instance of the catalogue: its marketplace value and its API's base URL."""

    @property
    def code(self) -> str: ...

    @property
    def base_url(self) -> str: ...


E = TypeVar("E", bound=Entry)
T = TypeVar("T")


class CatalogueError(ValueError):
    """A catalogue that cannot be read (not JSON, an entry off its shape, a code twice)."""


def check_base_url(code: str, base_url: str) -> None:
    """ValueError when an entry's base URL is not http(s) or holds credentials (shown
    without them: the entry is refused for holding them)."""
    try:
        origin_of(base_url)
    except ValueError:
        raise ValueError(f"{code}: baseUrl {base_url!r} is not an http(s) address") from None
    if httpx.URL(base_url).userinfo:
        raise ValueError(f"{code}: baseUrl holds credentials: keys go in Vault only")


DEFAULT_PORTS = {"http": 80, "https": 443}


def instance_of(base_url: str) -> str:
    """The instance an entry's base URL reaches, as the marketplace knows it: its host,
    lower-cased, in IDNA form, without a trailing dot, with its port unless it is the
    scheme's default; the scheme and path set aside (two entries of one instance may spell
    its address differently, an operator renamed or listed twice). ValueError for an
    address without a host."""
    try:
        url = httpx.URL(base_url)
        host = url.raw_host.decode("ascii").lower().rstrip(".")
    except (httpx.InvalidURL, UnicodeError):
        raise ValueError(f"{base_url!r} is not an address") from None
    if not host:
        raise ValueError(f"{base_url!r} names no host")
    if ":" in host:  # an IPv6 address, bracketed as in a URL so that its port stays apart
        host = f"[{host}]"
    port = url.port
    if port is None or port == DEFAULT_PORTS.get(url.scheme.lower()):
        return host
    return f"{host}:{port}"


@dataclass
class _FileReading(Generic[E]):
    entries: tuple[E, ...] = ()
    problem: str | None = None  # the last one logged, so that it is logged once


class Catalogue(Generic[E]):
    """The instances of ``entry`` (a msgspec Struct) packaged as ``package``'s
    ``resource``, overridden by the variables ``inline`` and ``file``; ``label`` and
    ``noun`` name the catalogue and its entries in log lines (the platform, "operators")."""

    def __init__(
        self,
        entry: type[E],
        package: str,
        resource: str,
        *,
        inline: str,
        file: str,
        label: str,
        noun: str,
    ) -> None:
        self._decoder = msgspec.json.Decoder(list[entry])  # type: ignore[valid-type]
        self.package, self.resource = package, resource
        self.inline, self.file = inline, file
        self.label, self.noun = label, noun
        self._files: dict[str, _FileReading[E]] = {}
        self._inline: dict[tuple[str, bool], tuple[E, ...]] = {}
        self._made: dict[tuple[Callable[[E], Any], bytes], Any] = {}
        self.packaged = cache(self._packaged)

    def each(self, make: Callable[[E], T]) -> tuple[T, ...]:
        """``make`` of every instance served now (its connector); an entry unchanged gives
        the same object at every call, so that what services keep by it (sessions,
        clients) holds."""
        made = []
        for entry in self.entries():
            key = (make, msgspec.json.encode(entry))
            if key not in self._made:
                self._made[key] = make(entry)
            made.append(self._made[key])
        return tuple(made)

    def parse(self, raw: bytes | str, where: str, *, production: bool = False) -> tuple[E, ...]:
        """The entries a catalogue document lists; CatalogueError saying what and where:
        not JSON, larger than MAX_CATALOGUE_BYTES, an entry off its shape, its URL not
        http(s) or with credentials in it, a code twice, and, ``production``, a base URL not https or
        inside our network."""
        if len(raw) > MAX_CATALOGUE_BYTES:
            raise CatalogueError(f"{where}: larger than {MAX_CATALOGUE_BYTES} bytes")
        try:
            found: list[E] = self._decoder.decode(raw)
            for entry in found:  # every entry's address, whatever the connector's entry type
                check_base_url(entry.code, entry.base_url)
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            raise CatalogueError(f"{where}: {exc}") from None
        codes = [e.code for e in found]
        if twice := sorted({c for c in codes if codes.count(c) > 1}):
            raise CatalogueError(f"{where}: {', '.join(twice)} listed twice")
        if production:
            for entry in found:
                if problem := production_problem(entry.base_url):
                    raise CatalogueError(f"{where}: {entry.code}: baseUrl {problem}")
        return tuple(found)

    def entries(self, environ: Mapping[str, str] | None = None) -> tuple[E, ...]:
        """Every instance served now: the packaged ones, then the inline variable's, then
        the file's, a later entry replacing an earlier one of its code (in the first one's
        place), a new code appended."""
        env = os.environ if environ is None else environ
        served = {e.code: e for e in self.packaged()}
        # Production-like as every service's settings say it (``KEYBUZZ_ENV``).
        production = env.get("KEYBUZZ_ENV", "development") in PRODUCTION_LIKE
        if raw := env.get(self.inline, "").strip():
            served.update((e.code, e) for e in self._from_inline(raw, production))
        if path := env.get(self.file, "").strip():
            served.update((e.code, e) for e in self._from_file(path, production))
        return tuple(served.values())

    def entry(self, code: str, environ: Mapping[str, str] | None = None) -> E | None:
        """The instance of marketplace value ``code`` now, or None."""
        return next((e for e in self.entries(environ) if e.code == code), None)

    def _packaged(self) -> tuple[E, ...]:
        path = files(self.package) / self.resource
        return self.parse(path.read_bytes(), f"the packaged {self.resource}")

    def _from_inline(self, raw: str, production: bool) -> tuple[E, ...]:
        """The inline list; an invalid one is logged and left out (the environment does not
        change under a running process: once per value)."""
        known = (raw, production)
        if known not in self._inline:
            try:
                self._inline[known] = self.parse(raw, self.inline, production=production)
            except CatalogueError as exc:
                log.error("%s catalogue ignored: %s", self.label, exc)
                self._inline[known] = ()
        return self._inline[known]

    def _from_file(self, path: str, production: bool) -> tuple[E, ...]:
        """The file's entries, or its last good reading when it is missing or invalid."""
        reading = self._files.setdefault(path, _FileReading())
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_CATALOGUE_BYTES + 1)  # an oversized file is not read whole
            reading.entries = self.parse(raw, f"{self.file} {path}", production=production)
            reading.problem = None
        except (OSError, CatalogueError) as exc:
            problem = str(exc) if isinstance(exc, CatalogueError) else f"{path}: {exc.strerror}"
            if problem != reading.problem:
                log.error(
                    "%s catalogue file unreadable, its last good reading (%d %s) kept: %s",
                    self.label,
                    len(reading.entries),
                    self.noun,
                    problem,
                )
                reading.problem = problem
        return reading.entries
