"""The Mirakl operators this connector serves: data, not code (docs/MIRAKL.md, "The
catalogue").

The packaged ``catalogue.json`` lists the operators known at release; two variables
override and extend it, entries replacing the packaged ones by ``code``:
``MIRAKL_CATALOGUE`` (an inline JSON list: how the dev stack points the seeded operators at
the sandbox's double) and ``MIRAKL_CATALOGUE_FILE`` (a file read at every call: how an
operator is added to running services without a release). Both are read from the process
environment when asked (``operators()``), before any service settings exist.

A file that is missing or invalid leaves the last good reading of it in force, with one
log line per new problem: a typo in the file never takes an operator offline."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Annotated

import httpx
import msgspec
from keybuzz_shared.file_links import origin_of, production_problem
from keybuzz_shared.settings import PRODUCTION_LIKE

log = logging.getLogger(__name__)

CATALOGUE_ENV = "MIRAKL_CATALOGUE"
CATALOGUE_FILE_ENV = "MIRAKL_CATALOGUE_FILE"
# A marketplace value: upper case, digits and underscores, as the seeded codes are.
CODE_PATTERN = "^[A-Z][A-Z0-9_]{1,39}$"
# A catalogue lists a few dozen operators in a few kilobytes: a file larger than this is a
# mistake or an attack, refused without being read whole.
MAX_CATALOGUE_BYTES = 1024 * 1024
# Mirakl's operation codes a frequency may be given for (seconds between two calls).
OPERATIONS = ("M11", "OR11", "A21")


class Operator(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """One operator's instance of Mirakl's seller API: its marketplace value (``code``),
    its name as sellers read it, its production base URL (calls go to
    ``<base_url>/api/...``), how many hours it gives a shop to answer a customer, and the
    frequencies it sets for calls of its own (seconds between two first pages)."""

    code: Annotated[str, msgspec.Meta(pattern=CODE_PATTERN)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    base_url: str
    response_hours: Annotated[float, msgspec.Meta(gt=0, le=24 * 30)]
    frequencies: dict[str, Annotated[float, msgspec.Meta(gt=0)]] = {}
    # Where base_url comes from: "official" (the operator publishes it), "observed"
    # (independent integrations use it), "assumed" (Mirakl's usual naming, unconfirmed).
    source: str = "assumed"

    def __post_init__(self) -> None:
        try:
            origin_of(self.base_url)
        except ValueError:
            raise ValueError(
                f"{self.code}: baseUrl {self.base_url!r} is not an http(s) address"
            ) from None
        if httpx.URL(self.base_url).userinfo:
            # Shown without them: the entry is refused for holding credentials.
            raise ValueError(f"{self.code}: baseUrl holds credentials: keys go in Vault only")
        if unknown := sorted(set(self.frequencies) - set(OPERATIONS)):
            raise ValueError(f"{self.code}: frequencies of {', '.join(unknown)} are not read")

    def frequency(self, operation: str) -> float | None:
        """Seconds between two calls of ``operation`` the operator sets, or None."""
        return self.frequencies.get(operation)

    @property
    def key(self) -> bytes:
        """The entry as a whole: what a connector is memoised by."""
        return msgspec.json.encode(self)


class CatalogueError(ValueError):
    """A catalogue that cannot be read (not JSON, an entry off its shape, a code twice)."""


def parse(raw: bytes | str, where: str, *, production: bool = False) -> tuple[Operator, ...]:
    """The operators a catalogue document lists; CatalogueError saying what and where: not
    JSON, larger than MAX_CATALOGUE_BYTES, an entry off its shape or with credentials in
    its URL, a code twice, and, ``production``, a base URL not https or inside our
    network (loopback, link-local, private)."""
    if len(raw) > MAX_CATALOGUE_BYTES:
        raise CatalogueError(f"{where}: larger than {MAX_CATALOGUE_BYTES} bytes")
    try:
        found = msgspec.json.decode(raw, type=list[Operator])
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CatalogueError(f"{where}: {exc}") from None
    codes = [o.code for o in found]
    if twice := sorted({c for c in codes if codes.count(c) > 1}):
        raise CatalogueError(f"{where}: {', '.join(twice)} listed twice")
    if production:
        for entry in found:
            if problem := production_problem(entry.base_url):
                raise CatalogueError(f"{where}: {entry.code}: baseUrl {problem}")
    return tuple(found)


def _production(env: Mapping[str, str]) -> bool:
    """The process runs production-like (``KEYBUZZ_ENV``, as every service's settings)."""
    return env.get("KEYBUZZ_ENV", "development") in PRODUCTION_LIKE


@cache
def packaged() -> tuple[Operator, ...]:
    path = files("keybuzz_connector_mirakl") / "catalogue.json"
    return parse(path.read_bytes(), "the packaged catalogue.json")


class _FileReading(msgspec.Struct):
    operators: tuple[Operator, ...] = ()
    problem: str | None = None  # the last one logged, so that it is logged once


_files: dict[str, _FileReading] = {}
_inline: dict[tuple[str, bool], tuple[Operator, ...]] = {}


def _from_inline(raw: str, production: bool) -> tuple[Operator, ...]:
    """The inline list; an invalid one is logged and left out (the environment does not
    change under a running process: once per value)."""
    known = (raw, production)
    if known not in _inline:
        try:
            _inline[known] = parse(raw, CATALOGUE_ENV, production=production)
        except CatalogueError as exc:
            log.error("Mirakl catalogue ignored: %s", exc)
            _inline[known] = ()
    return _inline[known]


def _from_file(path: str, production: bool) -> tuple[Operator, ...]:
    """The file's operators, or its last good reading when it is missing or invalid."""
    reading = _files.setdefault(path, _FileReading())
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CATALOGUE_BYTES + 1)  # an oversized file is not read whole
        reading.operators = parse(raw, f"{CATALOGUE_FILE_ENV} {path}", production=production)
        reading.problem = None
    except (OSError, CatalogueError) as exc:
        problem = str(exc) if isinstance(exc, CatalogueError) else f"{path}: {exc.strerror}"
        if problem != reading.problem:
            log.error(
                "Mirakl catalogue file unreadable, its last good reading (%d operators) kept: %s",
                len(reading.operators),
                problem,
            )
            reading.problem = problem
    return reading.operators


def operators(environ: Mapping[str, str] | None = None) -> tuple[Operator, ...]:
    """Every operator served now: the packaged ones, then ``MIRAKL_CATALOGUE``'s, then
    ``MIRAKL_CATALOGUE_FILE``'s, a later entry replacing an earlier one of its code (in
    the first one's place), a new code appended."""
    env = os.environ if environ is None else environ
    served = {o.code: o for o in packaged()}
    production = _production(env)
    if raw := env.get(CATALOGUE_ENV, "").strip():
        served.update((o.code, o) for o in _from_inline(raw, production))
    if path := env.get(CATALOGUE_FILE_ENV, "").strip():
        served.update((o.code, o) for o in _from_file(path, production))
    return tuple(served.values())


def operator(code: str, environ: Mapping[str, str] | None = None) -> Operator | None:
    """The operator of marketplace value ``code`` now, or None."""
    return next((o for o in operators(environ) if o.code == code), None)
