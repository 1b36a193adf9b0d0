"""An order's life as the doubles draw it: its states in time order, the state it is in at
a moment, when it reached one; the shipping path every marketplace's orders follow
(accepted, prepared, shipped, most of them delivered), under each marketplace's names."""

from __future__ import annotations

import random

import msgspec

HOUR, DAY = 3_600.0, 86_400.0
# no order whose life is placed, waiting for the seller (up to an hour), then
# ``shipping_path`` changes state later than this after it is placed
MAX_LIFECYCLE = 9 * DAY


class Lifecycle(msgspec.Struct, frozen=True, kw_only=True):
    events: tuple[tuple[float, str], ...]  # (virtual time, state), in time order

    def state_at(self, virtual_now: float) -> tuple[str, float] | None:
        """(state, virtual time it began) at ``virtual_now``, or None before the first."""
        current = None
        for at, state in self.events:
            if at > virtual_now:
                break
            current = (state, at)
        return current

    def status_at(self, virtual_now: float) -> tuple[str, float]:
        """``state_at``, the first state (and its time) before it: as placed."""
        return self.state_at(virtual_now) or (self.events[0][1], self.events[0][0])

    def reached(self, state: str) -> float | None:
        """When the order reached ``state``, None if it never does."""
        return next((at for at, s in self.events if s == state), None)


def shipping_path(
    draw: random.Random, since: float, names: tuple[str, str, str, str]
) -> list[tuple[float, str]]:
    """The order's states from ``since`` (placed, or waiting for the seller): accepted within
    0.5–10 h, prepared within 5–60 min, shipped within 6–48 h, delivered 2–6 days later
    (85 %); ``names``: the marketplace's for those four states."""
    accepted = since + draw.uniform(0.5, 10) * HOUR
    prepared = accepted + draw.uniform(5, 60) * 60
    shipped = prepared + draw.uniform(6, 48) * HOUR
    path = [(accepted, names[0]), (prepared, names[1]), (shipped, names[2])]
    if draw.random() < 0.85:
        path.append((shipped + draw.uniform(2, 6) * DAY, names[3]))
    return path


def order_path(
    draw: random.Random, since: float, names: tuple[str, str, str, str]
) -> list[tuple[float, str]]:
    """The order's states from ``since``: 2 % cancelled within 0.5–4 h, 3 % refused within
    1–12 h, the others on their ``shipping_path``."""
    outcome = draw.random()
    if outcome < 0.02:
        return [(since + draw.uniform(0.5, 4) * HOUR, "Cancelled")]
    if outcome < 0.05:
        return [(since + draw.uniform(1, 12) * HOUR, "Refused")]
    return shipping_path(draw, since, names)
