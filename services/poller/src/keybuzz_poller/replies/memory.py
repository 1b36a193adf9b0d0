"""How much reply data one poller holds at once: bytes of reply bodies in flight, per
instance and per tenant (docs/SECURITY.md, "Replies: bounded attachments …").

A reply's body is held before it is read (its declared length), while it is decoded,
checked, composed and stored, and given back when the answer has left. Every byte
of body costs a few more in memory on the way (JSON text, decoded attachments, the
composed mail), so the budgets are set in body bytes well below the pod's memory.
Beyond either budget the request is refused at once, not queued: the caller retries.
"""

from __future__ import annotations


class RepliesBusy(Exception):
    """This instance holds as much reply data as it may: retry shortly."""


class TenantRepliesBusy(RepliesBusy):
    """This tenant's replies in flight hold as much as one tenant may: retry shortly."""


class ReplyMemory:
    """Counters of body bytes in flight; one per process, used on the event loop only."""

    def __init__(self, instance_budget: int, tenant_budget: int) -> None:
        self.instance_budget = instance_budget
        self.tenant_budget = tenant_budget
        self.in_flight = 0
        self._by_tenant: dict[str, int] = {}

    def take(self, tenant_id: str, size: int) -> None:
        """Hold ``size`` bytes for the tenant, or raise at once; ``give_back`` when done."""
        held = self._by_tenant.get(tenant_id, 0)
        if held + size > self.tenant_budget:
            raise TenantRepliesBusy(
                f"this tenant's replies in progress hold {held} bytes; with this one "
                f"({size} bytes) they would pass {self.tenant_budget}: retry shortly"
            )
        if self.in_flight + size > self.instance_budget:
            raise RepliesBusy("too many large replies in progress on this instance: retry shortly")
        self.in_flight += size
        self._by_tenant[tenant_id] = held + size

    def give_back(self, tenant_id: str, size: int) -> None:
        self.in_flight -= size
        left = self._by_tenant[tenant_id] - size
        if left:
            self._by_tenant[tenant_id] = left
        else:
            del self._by_tenant[tenant_id]

    def held_by(self, tenant_id: str) -> int:
        return self._by_tenant.get(tenant_id, 0)
