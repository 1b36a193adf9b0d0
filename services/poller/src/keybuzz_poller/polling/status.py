"""Read side of polling: when the tenant was polled, what came of it, how late it is; quarantine."""

from __future__ import annotations

from datetime import datetime

import msgspec

from keybuzz_poller.polling import store
from keybuzz_poller.runtime import PollerRuntime


class PollStatus(msgspec.Struct, kw_only=True, rename="camel"):
    tenant_id: str
    scheduled: bool  # False: no enabled inbound address has been seen for the tenant
    polling: bool = False
    next_poll_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    messages_fetched: int = 0
    lag_seconds: float | None = None  # since the last successful poll


async def poll_status(runtime: PollerRuntime, tenant_id: str) -> PollStatus:
    row = await store.poll_status(runtime.pool, tenant_id)
    if row is None:
        return PollStatus(tenant_id=tenant_id, scheduled=False)
    return PollStatus(scheduled=True, **dict(row))


class QuarantinedFolder(msgspec.Struct, kw_only=True):
    folder: str
    messages: int
    since: datetime  # when the folder was first seen


async def quarantined_folders(runtime: PollerRuntime) -> list[QuarantinedFolder]:
    """Folders holding mail of no known tenant (kept, never deleted), by name."""
    return [
        QuarantinedFolder(folder=r["folder"], messages=r["messages"], since=r["first_seen"])
        for r in await store.quarantined(runtime.pool)
    ]
