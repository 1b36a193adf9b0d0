"""Starting a backfill job, on ports: one running job per tenant and marketplace, one
job per event.

A redelivered ``connection.connected`` gets the job its first delivery started; a start
while the tenant's job on that marketplace runs gets that job; credentials are checked before a job exists,
so a tenant without them is refused at once instead of failing later.
"""

from __future__ import annotations

from dataclasses import dataclass

from keybuzz_shared.connectors.names import UNLABELLED_EVENT_MARKETPLACE

from keybuzz_orders.backfill.jobs import JobView, window_start
from keybuzz_orders.order_source import source_for
from keybuzz_orders.ports import BackfillPorts


@dataclass(frozen=True)
class StartedJob:
    job: JobView
    created: bool  # False: the tenant's running job (or the event's) was returned


@dataclass(frozen=True)
class JobRequest:
    tenant_id: str
    days: int
    trigger: str
    source_event_id: str | None = None
    marketplace: str = UNLABELLED_EVENT_MARKETPLACE


async def start_job(ports: BackfillPorts, request: JobRequest, owner: str) -> StartedJob:
    """A new job leased to ``owner``, or the one already started (``created`` False).

    Raises ``InvalidDays``, ``NoSource`` and ``CredentialsMissing`` (or the source's
    ``SourceRefused``) before anything is written.
    """
    created_after = window_start(request.days, ports.clock())
    jobs, event_id = ports.jobs, request.source_event_id
    if event_id and (done := await jobs.job_for_event(event_id)):
        return StartedJob(done, created=False)
    source_for(ports.source, ports.sources, request.marketplace)  # NoSource: none serves it
    marketplace_id = await ports.marketplaces.marketplace_id(request.tenant_id, request.marketplace)
    job = await jobs.insert_job(
        tenant_id=request.tenant_id,
        marketplace=request.marketplace,
        marketplace_id=marketplace_id,
        trigger=request.trigger,
        days=request.days,
        created_after=created_after,
        owner=owner,
        lease_seconds=ports.lease_seconds,
        source_event_id=event_id,
    )
    if job is not None:
        return StartedJob(job, created=True)
    running = await jobs.running_job(request.tenant_id, request.marketplace)
    if running is None and event_id:
        running = await jobs.job_for_event(event_id)
    if running is None:  # it finished between our insert and this read
        return await start_job(ports, request, owner)
    return StartedJob(running, created=False)
