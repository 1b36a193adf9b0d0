"""One poll of one tenant: everything new in its folder, batch by batch, each batch's bounces
taken out (``replies/bounces.py``) and the rest stored as tickets (``tickets/from_mails.py``),
in the unit of work that moves the folder's cursor. The caller holds the tenant's lease.
"""

from __future__ import annotations

from datetime import datetime

from keybuzz_shared.uow import StoreUnit
from prometheus_client import Histogram

from keybuzz_poller.inbound.addresses import seconds_since_accepted
from keybuzz_poller.polling.domain import PollResult
from keybuzz_poller.polling.ports import PollPorts, PollWrites
from keybuzz_poller.reading.new_mail import read_batch
from keybuzz_poller.reading.relay_mail import RelayMail
from keybuzz_poller.replies.bounces import take_bounces
from keybuzz_poller.replies.ports import ReplyWrites
from keybuzz_poller.tickets.from_mails import StoreCounts, store_mails
from keybuzz_poller.tickets.intake import intake_of

BATCH = 200  # mails per unit of work; a poll goes on while the folder holds more

MAIL_TO_TICKET = Histogram(
    "keybuzz_poller_mail_to_ticket_seconds",
    "From the MX's acceptance of a mail (its X-KeyBuzz-Accepted-At stamp) to the end of the "
    "poll that stored it, after its commits: one observation per mail stored that came "
    "through the MX.",
    ["service"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)


async def poll_tenant(ports: PollPorts, tenant_id: str) -> PollResult:
    """Read and store everything new in the tenant's folder."""
    counts = StoreCounts()

    async def handle(unit: StoreUnit[PollWrites], mails: list[RelayMail]) -> None:
        writes, received_at = unit.store, ports.clock()
        # The batch's bounces and mails touch tickets in one unit of work: one recompute.
        mails = await take_bounces(
            ReplyWrites(replies=writes.replies, tickets=writes.tickets),
            unit,
            tenant_id,
            mails,
            received_at=received_at,
            service=ports.service,
            keys=ports.bounce_keys,
            touched=intake_of(unit, writes.tickets),
        )
        await store_mails(writes.tickets, unit, tenant_id, mails, counts, received_at)

    while (await read_batch(ports.reading, tenant_id, handle, limit=BATCH)).more:
        pass
    _observe_mail_to_ticket(ports.service, counts.accepted_at, ports.clock())
    return PollResult(
        tenant_id=tenant_id,
        fetched=counts.fetched,
        stored=counts.stored,
        duplicates=counts.duplicates,
        unparsed=counts.unparsed,
    )


def _observe_mail_to_ticket(service: str, accepted: list[datetime], now: datetime) -> None:
    latency = MAIL_TO_TICKET.labels(service)
    for at in accepted:
        latency.observe(seconds_since_accepted(at, now))
