"""What the inbound side's use cases use, as ports: the projection of tenants and their
addresses, the poll schedule a newly reachable tenant joins (polling's, which inbound does
not import: ``bootstrap.py`` hands its adapter in), and a unit of work over both.

The PostgreSQL adapters are ``inbound/store.py`` and ``polling/store.py``; the unit tier's
in-memory fakes are held to them by ``tests/test_projection_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from keybuzz_shared.uow import StoreUnit

from keybuzz_poller.inbound.addresses import ProjectedAddress, Recipient


class ProjectionStore(Protocol):
    """The poller's projection of ``tenant.synced``/``tenant.archived``."""

    async def apply_tenant_state(self, tenant_id: str, archived: bool, as_of: datetime) -> bool:
        """Records the tenant's state unless one at least as new was; True when applied."""
        ...

    async def replace_addresses(
        self, tenant_id: str, addresses: Sequence[ProjectedAddress]
    ) -> list[str]:
        """The tenant's full set of addresses; those already another tenant's are left as
        they are and returned (the caller rolls back)."""
        ...

    async def find_recipient(self, email: str) -> Recipient | None:
        """An enabled address of a tenant not archived, also under a reply's bounce tag."""
        ...


class TenantSchedule(Protocol):
    """Polling's schedule, as the projection needs it."""

    async def ensure_scheduled(self, tenant_id: str, interval: float) -> None:
        """A row for the tenant, its first poll at a random point of ``interval``; an
        existing row is left as it is."""
        ...


@dataclass(frozen=True)
class ProjectionWrites:
    """What one unit of work writes: the projection and the schedule, one transaction."""

    projection: ProjectionStore
    schedule: TenantSchedule


InboundUnit = StoreUnit[ProjectionWrites]


@dataclass(frozen=True)
class InboundPorts:
    """Everything the inbound use cases touch; made once per process (``bootstrap.py``)."""

    projection: ProjectionStore  # reads and single-statement writes, outside a unit of work
    unit_of_work: Callable[[], AbstractAsyncContextManager[InboundUnit]]
    poll_interval: float  # a new tenant's first poll falls within it
