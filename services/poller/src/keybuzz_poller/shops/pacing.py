"""A shop's calls paced to its marketplace's documented frequency: pure.

A marketplace that answers a shop's listing at most once per F seconds counts F from the
calls it saw, and says 429 to one inside it. When it saw the last call is known only within
[sent, answered]: the next call leaves F after the last one was *answered* — never F after
its poll was *due*, since a poll claimed sooner after its due time than the last one (the
scheduler's lag spreads) would land inside F. Every connector declares F alike
(``ShopApiSettings.call_frequency_seconds``); the poller keeps when a shop's last calls
ended in its schedule's row (``poller_shops.last_poll_at``), so a restart or another
instance keeps it too.

What made a poll due sooner than F after the last calls (a poll asked for at once, a retry
after a failure, a reconnection, a claim's lag) decides nothing: a poll claimed up to
``spread`` seconds early waits the rest out in its slot (the claim's lag spreads over about
a second); one claimed earlier is put off to the time allowed, its slot given back.
"""

from __future__ import annotations

from dataclasses import dataclass

from keybuzz_shared.connectors.seam import ShopApiSettings

# The longest a claimed poll waits for its shop's frequency in its slot: the claims' lag
# spread (a tick is at most a second, plus the claim itself); beyond it, the poll is put off.
SPREAD_SECONDS = 2.0


@dataclass(frozen=True)
class CallFrequency:
    """One marketplace's documented frequency: a shop's calls at most once per
    ``frequency`` seconds, counted from the end of the last ones."""

    frequency: float
    spread: float = SPREAD_SECONDS

    def wait(self, since_last: float | None) -> float:
        """Seconds before a shop's next call may leave, ``since_last`` seconds after its
        last calls ended (None: none known); 0: at once."""
        if since_last is None:
            return 0.0
        return max(0.0, self.frequency - since_last)

    def waits_in_slot(self, wait: float) -> bool:
        """Whether a poll ``wait`` seconds early waits in its slot (else it is put off)."""
        return wait <= self.spread


def call_frequency_of(api: ShopApiSettings) -> CallFrequency | None:
    """The call frequency a connector's shop API settings declare; None: none declared."""
    if api.call_frequency_seconds is None:
        return None
    return CallFrequency(frequency=float(api.call_frequency_seconds))
