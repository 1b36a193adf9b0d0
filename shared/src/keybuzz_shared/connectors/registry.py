"""Which connector serves a ``marketplace`` value: services choose behaviour here, by a
connection's, ticket's or order's ``marketplace``, never by naming a marketplace.

The connectors are the installed distributions' entry points of group
``keybuzz.connectors`` (each ``connectors/<name>/pyproject.toml`` declares one, naming its
connector itself or a function returning its connectors). A connector family's values may
come from data (a catalogue an operator edits), so the registry calls those functions again
while services run: when its
last reading is older than ``REREAD_SECONDS``, when it is asked for a value it does not
serve (at most once per ``UNKNOWN_REREAD_SECONDS``), and on ``refresh()``. A function that
raises, or a reading with two connectors of one value, keeps the last good reading (logged);
only the first reading, at start-up, raises. Their order, which every listing follows, is
stable: entry points by name, then each one's connectors in the order it returns them
(docs/ARCHITECTURE.md, "Adding a marketplace")."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar, cast

from keybuzz_shared.connectors.seam import Connector

GROUP = "keybuzz.connectors"
# A catalogue edited while services run is served within this many seconds everywhere.
REREAD_SECONDS = 5.0
# A value asked for and not served (a shop connected on a marketplace just added) reads the
# entry points again at most this often, so a stream of unknown values costs one reading a
# second, not one per question.
UNKNOWN_REREAD_SECONDS = 1.0

log = logging.getLogger(__name__)
T = TypeVar("T")
_monotonic = time.monotonic


class UnknownMarketplace(LookupError):
    """No connector serves this value (not a marketplace, or not behind the seam yet)."""

    def __init__(self, marketplace: str) -> None:
        known = ", ".join(sorted(_state.served))
        super().__init__(f"no connector for marketplace {marketplace!r} (connectors: {known})")
        self.marketplace = marketplace


class ConnectorConflict(RuntimeError):
    """Two connectors claim one ``marketplace`` value: which serves it would be a guess."""


def _label(point: EntryPoint) -> str:
    return f"{point.name} ({point.value})"


def _ordered(found: Iterable[EntryPoint]) -> list[EntryPoint]:
    return sorted(found, key=lambda p: (p.name, p.value))


def _connectors_of(named: object) -> Callable[[], Iterable[Connector]]:
    """What an entry point names, as the function the registry calls at each reading: a
    connector itself (its ``marketplace`` a string) is served alone, the same object each
    time; anything else is a function returning connectors (a family's, read again)."""
    if isinstance(getattr(named, "marketplace", None), str):
        connector = cast(Connector, named)
        return lambda: (connector,)
    return cast(Callable[[], Iterable[Connector]], named)


def _merge(readings: Iterable[tuple[str, Iterable[Connector]]]) -> dict[str, Connector]:
    """The connectors of each (entry point, its connectors), by value, in order;
    ConnectorConflict: two of them serve one value."""
    served: dict[str, Connector] = {}
    origin: dict[str, str] = {}
    for label, found in readings:
        for connector in found:
            marketplace = connector.marketplace
            if marketplace in served:
                raise ConnectorConflict(
                    f"marketplace {marketplace!r} has two connectors: entry point "
                    f"{origin[marketplace]!r} and {label!r} of group {GROUP!r}; "
                    "uninstall one of them"
                )
            served[marketplace] = connector
            origin[marketplace] = label
    return served


def load(found: Iterable[EntryPoint]) -> dict[str, Connector]:
    """The connectors of ``found`` (entry points of ``GROUP``) by marketplace value, in the
    registry's order; ConnectorConflict: two of them serve one value."""
    points = _ordered(found)
    return _merge((_label(p), list(_connectors_of(p.load())())) for p in points)


class _Registry:
    """The entry points' last good readings and what they serve, read again when stale.

    ``served`` is replaced whole, never changed in place, so a question reads one dict
    lookup and a clock, with no lock; readings are serialised by ``lock``."""

    def __init__(self) -> None:
        self.points: list[EntryPoint] | None = None  # discovered at the first reading
        self.installed: list[EntryPoint] = []  # installed()
        self.functions: dict[str, Callable[[], Iterable[Connector]]] = {}
        self.last_good: dict[str, list[Connector]] = {}
        self.failing: dict[str, str] = {}  # entry point → the error last logged
        self.added: dict[str, Connector] = {}  # registered()
        self.served: dict[str, Connector] = {}
        self.read_at = -float("inf")
        self.read_once = False  # until a reading succeeds, a failing one raises
        self.conflict = ""  # the conflict last logged
        self.lock = threading.RLock()

    def _called(self, point: EntryPoint, first: bool) -> list[Connector]:
        label = _label(point)
        try:
            if label not in self.functions:
                self.functions[label] = _connectors_of(point.load())
            found = list(self.functions[label]())
        except Exception as error:
            if first:
                raise
            message = f"{type(error).__name__}: {error}"
            if self.failing.get(label) != message:
                log.warning(
                    "connector entry point %s failed: %s; serving its last good connectors",
                    label,
                    message,
                )
                self.failing[label] = message
            return self.last_good.get(label, [])
        if self.failing.pop(label, None) is not None:
            log.info("connector entry point %s read again", label)
        return found

    def read(self) -> None:
        with self.lock:
            first = not self.read_once
            if self.points is None:
                self.points = list(entry_points(group=GROUP))
            points = _ordered([*self.points, *self.installed])
            readings = [(_label(p), self._called(p, first)) for p in points]
            try:
                served = _merge(readings)
                for marketplace, connector in self.added.items():
                    if marketplace in served and served[marketplace] is not connector:
                        raise ConnectorConflict(
                            f"{marketplace!r} has a connector registered and an entry point's"
                        )
                    served[marketplace] = connector
            except ConnectorConflict as conflict:
                if first:
                    raise
                if str(conflict) != self.conflict:
                    log.warning(
                        "connectors read again: %s; serving the last good reading", conflict
                    )
                    self.conflict = str(conflict)
            else:
                self.last_good = dict(readings)
                self.served = served
                self.read_once, self.conflict = True, ""
            self.read_at = _monotonic()

    def current(self) -> dict[str, Connector]:
        if _monotonic() - self.read_at >= REREAD_SECONDS:
            self.read()
        return self.served

    def unknown(self, marketplace: str) -> Connector | None:
        """``marketplace``'s connector after reading again, unless the last reading is
        younger than ``UNKNOWN_REREAD_SECONDS``; None: still not served."""
        if _monotonic() - self.read_at < UNKNOWN_REREAD_SECONDS:
            return None
        self.read()
        return self.served.get(marketplace)


_state = _Registry()


def connector_for(marketplace: str) -> Connector:
    # Every question of every service comes here: a clock read and a dict lookup.
    state = _state
    if _monotonic() - state.read_at >= REREAD_SECONDS:
        state.read()
    found = state.served.get(marketplace)
    if found is None:
        found = state.unknown(marketplace)
        if found is None:
            raise UnknownMarketplace(marketplace)
    return found


def connector_serving(marketplace: str) -> Connector | None:
    """The connector serving ``marketplace`` now, or None where none does."""
    try:
        return connector_for(marketplace)
    except UnknownMarketplace:
        return None


def served(marketplace: str) -> bool:
    """A connector serves ``marketplace`` now."""
    return connector_serving(marketplace) is not None


def connectors() -> list[Connector]:
    """Every connector, in the registry's order (one class may serve several values)."""
    return list(_state.current().values())


def serving() -> Mapping[str, Connector]:
    """The current reading itself, each value served → its connector, in the registry's
    order. A reading is replaced whole, never changed (read again, a connector registered):
    what a caller works out of one may be kept for as long as this gives the same object."""
    return _state.current()


def marketplaces() -> tuple[str, ...]:
    """Every value a connector serves, as of now (a connector ``registered`` included), in
    the registry's order: what a ``marketplace`` field or filter may name."""
    return tuple(_state.current())


def families() -> dict[str, tuple[str, ...]]:
    """The values each entry point serves (one package may serve many, from data), by the
    entry point's name; a connector ``registered`` is a family of its own."""
    _state.current()
    with _state.lock:
        read = {
            label: tuple(c.marketplace for c in found) for label, found in _state.last_good.items()
        }
        return read | {marketplace: (marketplace,) for marketplace in _state.added}


def refresh() -> None:
    """Call every entry point's function again now (an operator's catalogue edit served at
    once, or a test's)."""
    _state.read()


class PerMarketplace(Mapping[str, T]):
    """One ``T`` per marketplace, made on first use from its connector (``make``: a
    LookupError when that connector has none, e.g. no ``shop_api``) and made again when the
    registry serves the value by another connector object (an edited catalogue entry):
    what a service keeps per marketplace (an HTTP client, a reply sender, an order source)
    without freezing the set of marketplaces at start-up. A value no connector serves now
    is not a key (KeyError), whatever was made for it before."""

    def __init__(self, make: Callable[[Connector], T]) -> None:
        self._make = make
        self._made: dict[str, tuple[Connector, T]] = {}
        self.replaced: list[T] = []  # made for a connector object served no more (to close)

    def __getitem__(self, marketplace: str) -> T:
        try:
            connector = connector_for(marketplace)
            kept = self._made.get(marketplace)
            if kept is not None and kept[0] is connector:
                return kept[1]
            made = self._make(connector)
        except LookupError:
            raise KeyError(marketplace) from None
        if kept is not None:
            self.replaced.append(kept[1])
        self._made[marketplace] = (connector, made)
        return made

    def __iter__(self) -> Iterator[str]:
        """The marketplaces served now whose ``T`` was made."""
        served = _state.current()
        return iter([m for m, (c, _) in list(self._made.items()) if served.get(m) is c])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def made(self) -> list[T]:
        """Every ``T`` made so far, served or not (to close them)."""
        return [*self.replaced, *(made for _, made in self._made.values())]


@contextmanager
def registered(connector: Connector) -> Iterator[Connector]:
    """Serves ``connector`` (a marketplace value no other connector serves) until the block
    ends: how a test shows that what reads the registry at use (oauth's catalogue and
    connection endpoints, the poller's shops) serves a new marketplace without other edits."""
    with _state.lock:
        if connector.marketplace in _state.current():
            raise ConnectorConflict(f"{connector.marketplace!r} already has a connector")
        _state.added[connector.marketplace] = connector
        _state.served = {**_state.served, connector.marketplace: connector}
    try:
        yield connector
    finally:
        with _state.lock:
            del _state.added[connector.marketplace]
            _state.served = {k: v for k, v in _state.served.items() if v is not connector}


@contextmanager
def installed(point: EntryPoint) -> Iterator[None]:
    """Serves entry point ``point`` (group ``GROUP``) beside the installed ones until the
    block ends, read again like them: how a test installs a connector family while
    services run."""
    with _state.lock:
        _state.current()
        _state.installed.append(point)
        _state.read()
    try:
        yield
    finally:
        with _state.lock:
            _state.installed.remove(point)
            _state.read()
