"""The instances of one API (one platform's operators), each a marketplace of its own, from
a catalogue: data, not code."""

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

# The packaged list, then an inline variable's (the dev stack's), then a file read at every
# call (an instance added without a release): a file missing or invalid leaves its last
# good reading in force; production-like, an address inside our network is refused in any
# spelling (docs/SECURITY.md).

log = logging.getLogger(__name__)

# A catalogue lists a few dozen instances in a few kilobytes: a file larger than this is a
# mistake or an attack, refused without being read whole.
MAX_CATALOGUE_BYTES = 1024 * 1024


class Entry(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def base_url(self) -> str: ...


E = TypeVar("E", bound=Entry)
T = TypeVar("T")


class CatalogueError(ValueError):
    """Not JSON, an entry off its shape, a code twice."""


def check_base_url(code: str, base_url: str) -> None:
    """ValueError for an address not http(s) or holding credentials (never shown)."""
    try:
        origin_of(base_url)
    except ValueError:
        raise ValueError(f"{code}: baseUrl {base_url!r} is not an http(s) address") from None
    if httpx.URL(base_url).userinfo:
        raise ValueError(f"{code}: baseUrl holds credentials: keys go in Vault only")


def instance_of(base_url: str) -> str:
    """The instance an address reaches: its host (IDNA, lower-case, no final dot) and port
    unless the scheme's default, so that two spellings of one instance are one."""
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
    if port is None or port == {"http": 80, "https": 443}.get(url.scheme.lower()):
        return host
    return f"{host}:{port}"


@dataclass
class _FileReading(Generic[E]):
    entries: tuple[E, ...] = ()
    problem: str | None = None  # the last one logged, so that it is logged once


class Catalogue(Generic[E]):
    """``entry``s packaged as ``package``'s ``resource``, overridden by the variables
    ``inline`` and ``file``, by ``code``."""

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
        """An entry unchanged makes the same object at every call: what services keep by
        it (sessions, clients) holds."""
        made = []
        for entry in self.entries():
            key = (make, msgspec.json.encode(entry))
            if key not in self._made:
                self._made[key] = make(entry)
            made.append(self._made[key])
        return tuple(made)

    def parse(self, raw: bytes | str, where: str, *, production: bool = False) -> tuple[E, ...]:
        """CatalogueError saying what and where."""
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
        return next((e for e in self.entries(environ) if e.code == code), None)

    def _packaged(self) -> tuple[E, ...]:
        path = files(self.package) / self.resource
        return self.parse(path.read_bytes(), f"the packaged {self.resource}")

    def _from_inline(self, raw: str, production: bool) -> tuple[E, ...]:
        """An invalid one logged and left out, once per value."""
        known = (raw, production)
        if known not in self._inline:
            try:
                self._inline[known] = self.parse(raw, self.inline, production=production)
            except CatalogueError as exc:
                log.error("%s catalogue ignored: %s", self.label, exc)
                self._inline[known] = ()
        return self._inline[known]

    def _from_file(self, path: str, production: bool) -> tuple[E, ...]:
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
