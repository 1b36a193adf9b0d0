"""What a double issued to its callers for a while (bearer tokens, authorization codes):
each grant valid until its ``expires_at`` on the sandbox's clock, expired ones dropped as
new ones are issued, a shop's all withdrawn at once (its secret rotated, a test's ask)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class _Clock(Protocol):
    def now(self) -> float: ...


class Expiring(Protocol):
    @property
    def expires_at(self) -> float: ...  # real epoch seconds


G = TypeVar("G", bound=Expiring)


class Issued(Generic[G]):
    """Grants by the value the caller holds."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.grants: dict[str, G] = {}

    def issue(self, value: str, grant: G) -> str:
        now = self.clock.now()
        self.withdraw(lambda issued: issued.expires_at <= now)
        self.grants[value] = grant
        return value

    def valid(self, value: str) -> G | None:
        """The grant of ``value`` while it lasts, else None."""
        grant = self.grants.get(value)
        return grant if grant is not None and grant.expires_at > self.clock.now() else None

    def redeem(self, value: str) -> G | None:
        """The grant of ``value`` once (an authorization code), None when expired."""
        grant = self.grants.pop(value, None)
        return grant if grant is not None and grant.expires_at > self.clock.now() else None

    def withdraw(self, whose: Callable[[G], bool]) -> int:
        """Drops the grants ``whose`` picks; how many."""
        picked = [value for value, grant in self.grants.items() if whose(grant)]
        for value in picked:
            del self.grants[value]
        return len(picked)
