"""Read marks where the marketplace marks messages one call each: a few calls in flight
(never a burst against its rate limit), sent again when in doubt (marking read twice does
nothing more), those a session marked already skipped, and within a budget of seconds:
past it, ``CallUnavailable`` and the rest left to the next call, so that marking a burst
of messages never holds a poll past its deadline and each poll marks more. Where the
marketplace has no read mark for sellers, an inbox is ``Unmarked``: nothing marked,
nothing refused."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from keybuzz_shared.connectors.kit.at_once import at_once
from keybuzz_shared.connectors.kit.requester import CallErrors
from keybuzz_shared.connectors.seam import CallRefused


class Unmarked:
    """The read marks of an inbox whose marketplace has none for sellers."""

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return 0


class ReadMarks:
    """``mark(message_id)`` one message's call (a ``CallRefused`` or ValueError: that
    message refused, not remembered); ``budget``: seconds a ``mark_read`` may take (None:
    no limit); ``kept``: ids remembered, oldest forgotten first."""

    def __init__(
        self,
        mark: Callable[[str], Awaitable[object]],
        errors: CallErrors,
        operation: str,
        *,
        at_once: int = 4,
        budget: float | None = None,
        kept: int = 10_000,
    ) -> None:
        self._mark = mark
        self._errors = errors
        self._operation = operation
        self._at_once = at_once
        self.budget = budget
        self._kept = kept
        self._marked: dict[str, None] = {}  # ids this session marked read, oldest first

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        """Marks the messages read; how many the marketplace refused. The first other
        failure stops the marks and is raised."""
        todo = [i for i in dict.fromkeys(message_ids) if i not in self._marked]

        async def refused(message_id: str) -> bool:
            try:
                await self._mark(message_id)
            except (CallRefused, ValueError):  # e.g. a message the marketplace lost
                return True
            self._marked[message_id] = None
            if len(self._marked) > self._kept:
                del self._marked[next(iter(self._marked))]
            return False

        try:
            async with asyncio.timeout(self.budget):
                done = await at_once(self._at_once, todo, refused)
        except TimeoutError:
            left = sum(1 for i in todo if i not in self._marked)
            raise self._errors.unavailable(
                self._operation, f"{left} messages left to mark read after {self.budget:g} s"
            ) from None
        return sum(done)
