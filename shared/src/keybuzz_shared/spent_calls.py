"""The calls one round of a shop's work made (a poll), counted where every request to a
marketplace passes (``JsonCalls._exchange``, each attempt of each call): what was spent,
never what a connector declares a round costs. A round opens its count (``counted``) and
every call made in its task (and the tasks it starts) is counted in it; a round with a
bound sends no call past it (``CallsBound``, raised before the request leaves). A listing
the kit stops for paging as no marketplace should (a page that says more follow and lists
nothing, a page given again) is said in the round's ``stopped`` (``listing_stopped``), so
that the round reports it. docs/ARCHITECTURE.md, "Calls counted as spent"."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class CallsBound(Exception):
    """The round's bound of calls was reached: this call was not sent. What the round read
    before it is kept; the caller ends the round there."""


@dataclass
class SpentCalls:
    """One round's count: ``made`` calls sent (answered or not), ``bound`` the most it may
    send (None: no bound), ``stopped`` why listings were stopped early."""

    bound: int | None = None
    made: int = 0
    stopped: list[str] = field(default_factory=list)

    def spend(self, name: str) -> None:
        if self.bound is not None and self.made >= self.bound:
            raise CallsBound(f"{name}: the round's {self.bound} calls are spent")
        self.made += 1


_ROUND: ContextVar[SpentCalls | None] = ContextVar("keybuzz_spent_calls", default=None)


@contextmanager
def counted(bound: int | None = None) -> Iterator[SpentCalls]:
    """A round's count, for the calls made inside it (its task's, and its children's)."""
    spent = SpentCalls(bound)
    token = _ROUND.set(spent)
    try:
        yield spent
    finally:
        _ROUND.reset(token)


def spend(name: str) -> None:
    """One call ``name`` about to be sent: counted in the round open, if one is;
    CallsBound, unsent, past the round's bound."""
    spent = _ROUND.get()
    if spent is not None:
        spent.spend(name)


def listing_stopped(call: str, reason: str, shop: Mapping[str, str] | None = None) -> None:
    """A listing of ``call`` ended early for ``reason`` (its pages read so far are kept):
    logged, and said in the round's count for the round to report."""
    log.warning("listing stopped: %s", reason, extra={"call": call, **(shop or {})})
    spent = _ROUND.get()
    if spent is not None:
        spent.stopped.append(f"{call}: {reason}")
