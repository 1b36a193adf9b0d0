"""What the tickets' reads and use cases take from outside: the clock deadlines are read against."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> datetime:
        """Now, aware (UTC)."""
        ...


def system_clock() -> datetime:
    return datetime.now(UTC)
