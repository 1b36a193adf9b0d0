"""What every service's in-memory fakes share (the unit tier: no server at all).

A fake store keeps its rows in plain attributes; :class:`InMemoryUnitOfWork` gives the
use cases the same ``StoreUnit`` as ``keybuzz_shared.uow.store_unit_of_work`` does on
PostgreSQL: the block's writes are kept only when it returns, and its events are
"published" (appended to ``published``) only then. Concurrency (row locks, two
instances at once) is the real adapters' and is tested on PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Generic, TypeVar

from keybuzz_shared.events import Event
from keybuzz_shared.uow import StoreUnit

R = TypeVar("R")


class InMemoryUnitOfWork(Generic[R]):
    def __init__(self, store: R) -> None:
        self.store = store
        self.published: list[Event] = []
        self.commits = 0

    def __call__(self) -> AbstractAsyncContextManager[StoreUnit[R]]:
        return self._unit()

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[StoreUnit[R]]:
        saved: dict[str, Any] = copy.deepcopy(vars(self.store))
        unit = StoreUnit(self.store)
        try:
            yield unit
            await unit.settle()
        except BaseException:
            vars(self.store).clear()
            vars(self.store).update(saved)  # rolled back: as if the block never ran
            raise
        self.commits += 1
        self.published.extend(unit.events)
        unit.committed()
