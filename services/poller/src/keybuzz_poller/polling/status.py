"""Read side of polling: when the tenant was polled, what came of it, how late it is; quarantine."""

from __future__ import annotations

from datetime import datetime

import msgspec

from keybuzz_poller.polling import store
from keybuzz_poller.polling.domain import PollStatus
from keybuzz_poller.polling.ports import PollSchedule
from keybuzz_poller.runtime import PollerRuntime


async def poll_status(schedule: PollSchedule, tenant_id: str) -> PollStatus:
    found = await schedule.poll_status(tenant_id)
    return found if found is not None else PollStatus(tenant_id=tenant_id, scheduled=False)


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
