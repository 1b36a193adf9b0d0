"""A minimal service on the shared frame, used by the platform tests.

It records every ``tenant.archived`` it handles in a table, rejects tenant
``poison`` as permanently invalid, and fails once for tenants starting with
``flaky`` (to exercise retries), and exposes one operator endpoint.
"""

from pathlib import Path
from typing import Any

import msgspec
from keybuzz_shared.auth import TenantContext
from keybuzz_shared.events import TenantArchived
from keybuzz_shared.messaging import Delivery, EventSubscription, PermanentEventError
from keybuzz_shared.micro import MicroEndpoint
from keybuzz_shared.service import Runtime, ServiceDefinition
from keybuzz_shared.settings import CommonSettings
from litestar import get, post

MIGRATIONS = Path(__file__).parent / "probe_migrations"


class ProbeSettings(CommonSettings, kw_only=True, frozen=True):
    pass


class Archive(msgspec.Struct):
    tenant_id: str = msgspec.field(name="tenantId")


@post("/archive")
async def archive(data: Archive, runtime: Runtime[Any]) -> dict[str, str]:
    """A state change and its event in one transaction, published by the outbox."""
    event = TenantArchived(tenant_id=data.tenant_id)
    async with runtime.unit_of_work() as uow:
        await uow.conn.execute("INSERT INTO probe_archived (tenant_id) VALUES ($1)", data.tenant_id)
        uow.emit(event)
    return {"eventId": event.event_id}


@get("/whoami")
async def whoami(tenant: TenantContext) -> dict[str, str]:
    """A tenant endpoint: what the shared auth dependency lets through."""
    return {"tenantId": tenant.tenant_id, "user": tenant.principal.user_id}


def register(runtime: Runtime[Any]) -> None:
    failed_once: set[str] = set()

    async def handle(event: TenantArchived, delivery: Delivery) -> None:
        if event.tenant_id == "poison":
            raise PermanentEventError("tenant poison is not accepted")
        if event.tenant_id.startswith("flaky") and event.tenant_id not in failed_once:
            failed_once.add(event.tenant_id)
            raise RuntimeError("transient failure")
        await runtime.pool.execute(
            "INSERT INTO probe_seen (event_id, tenant_id, attempt) VALUES ($1, $2, $3) "
            "ON CONFLICT (event_id) DO NOTHING",
            event.event_id,
            event.tenant_id,
            delivery.attempt,
        )

    EventSubscription(runtime, event_type=TenantArchived, handler=handle, purpose="seen")


def endpoints(runtime: Runtime[Any]) -> list[MicroEndpoint]:
    async def count(_: bytes) -> dict[str, int]:
        return {"seen": await runtime.pool.fetchval("SELECT count(*) FROM probe_seen")}

    return [MicroEndpoint("count", count, "how many events were handled")]


DEFINITION = ServiceDefinition(
    name="probe",
    description="platform test service",
    settings_type=ProbeSettings,
    migrations=MIGRATIONS,
    route_handlers=[archive, whoami],
    register_subscribers=register,
    micro_endpoints=endpoints,
)
