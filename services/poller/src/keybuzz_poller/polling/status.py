"""Read side of polling: when the tenant was polled, what came of it, how late it is."""

from __future__ import annotations

from keybuzz_poller.polling.domain import PollStatus
from keybuzz_poller.polling.ports import PollSchedule


async def poll_status(schedule: PollSchedule, tenant_id: str) -> PollStatus:
    found = await schedule.poll_status(tenant_id)
    return found if found is not None else PollStatus(tenant_id=tenant_id, scheduled=False)
