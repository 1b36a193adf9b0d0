"""For tests of a shop API connector through oauth and the poller run in-process
(``testing.start_service``): their HTTP API as an agent of the tenant calls it, a
connection's row, the poller against a marketplace double, polling and sending only when
the test says, events published as their producer would and read back from JetStream, and
the poller run once as a process (``--once``)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from keybuzz_shared.auth import issue_token
from keybuzz_shared.events import Event, TenantArchived, encode_event, event_headers
from nats.js.api import DeliverPolicy

from keybuzz_devstack import bootstrap
from keybuzz_devstack.testing import Infra, MailServer, RunningService, eventually, until_the_limit


def agent_headers(service: RunningService, tenant: str) -> dict[str, str]:
    """An agent of ``tenant``: a token signed with the service's own secret, the tenant named."""
    token = issue_token(service.runtime.settings.jwt_secret, "agent-1", tenants=[tenant])
    return {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}


async def as_agent(
    service: RunningService, method: str, path: str, tenant: str, **kwargs: Any
) -> httpx.Response:
    """``method path`` on ``service`` as an agent of ``tenant``; the answer, whatever it is."""
    async with service.client() as http:
        answer: httpx.Response = await http.request(
            method, path, headers=agent_headers(service, tenant), **kwargs
        )
    return answer


async def agent_json(service: RunningService, tenant: str, path: str, **params: Any) -> Any:
    """``GET path`` as an agent of ``tenant``; asserts a 200, returns its JSON."""
    answer = await as_agent(service, "GET", path, tenant, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def marketplaces_api(
    oauth: RunningService, method: str, path: str, tenant: str, **kwargs: Any
) -> httpx.Response:
    """oauth's ``/api/v1/marketplaces/<path>`` (connect, status, disconnect, catalogue)."""
    return await as_agent(oauth, method, f"/api/v1/marketplaces/{path}", tenant, **kwargs)


async def connection_row(oauth: RunningService, tenant: str, marketplace: str) -> Any:
    """oauth's row of ``tenant``'s connection to ``marketplace`` (``None``: no row)."""
    return await oauth.runtime.pool.fetchrow(
        "SELECT * FROM marketplace_connections WHERE tenant_id = $1 AND marketplace_type = $2",
        tenant,
        marketplace,
    )


async def start_quiet_poller(
    start_service: Callable[..., Awaitable[RunningService]],
    poller: Any,
    dovecot: MailServer,
    double_env: Mapping[str, str],
    **overrides: str,
) -> RunningService:
    """The poller (``poller``: its service definition) pointed at a double by
    ``double_env``, on the session's Dovecot: it polls and sends only when the test says."""
    return await start_service(
        poller,
        POLL_ENABLED="false",
        REPLY_SENDER_ENABLED="false",
        **double_env,
        **dovecot.settings,
        **overrides,
    )


async def publish(service: RunningService, event: Event) -> None:
    """``event`` on JetStream, as its producer would publish it."""
    js = (await service.operator()).jetstream()
    await js.publish(event.type, encode_event(event), headers=event_headers(event))


async def tenant_archived(
    poller: RunningService, tenant_id: str, at: datetime | None = None
) -> None:
    """The product app's ``tenant.archived``, once the poller applied it."""
    await publish(poller, TenantArchived(tenant_id=tenant_id, occurred_at=at or datetime.now(UTC)))

    async def applied() -> bool:
        return bool(
            await poller.runtime.pool.fetchval(
                "SELECT archived FROM poller_tenants WHERE tenant_id = $1", tenant_id
            )
        )

    await eventually(applied)


# How long ``tenant_events`` waits for an event the stream said it held.
EVENTS_SILENCE = 5.0


async def outbox_drained(service: RunningService) -> None:
    """Every event the service committed has been acknowledged by JetStream."""

    async def drained() -> bool:
        pending = await service.runtime.pool.fetchval(
            "SELECT count(*) FROM event_outbox WHERE published_at IS NULL"
        )
        return pending == 0

    await eventually(drained)


async def tenant_events(
    service: RunningService, subject: str, tenant_id: str
) -> list[dict[str, Any]]:
    """Every event of ``subject`` for the tenant on JetStream, once the service's outbox
    is drained: the stream's events of the subject read to the last one stored (its
    ``num_pending`` 0), not until a silence."""
    await outbox_drained(service)
    js = (await service.operator()).jetstream()
    stream = await js.find_stream_name_by_subject(subject)
    info = await js.stream_info(stream, subjects_filter=subject)
    if not sum((info.state.subjects or {}).values()):
        return []
    sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    found: list[dict[str, Any]] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=EVENTS_SILENCE)
            except TimeoutError:  # the stream's limits removed the last ones meanwhile
                return found
            body = json.loads(msg.data)
            if body.get("tenantId") == tenant_id:
                found.append(body)
            if msg.metadata.num_pending == 0:
                return found
    finally:
        await sub.unsubscribe()


def poller_process_env(
    stack: Infra, database: str, dovecot: MailServer, **more: str
) -> dict[str, str]:
    """The environment of ``python -m keybuzz_poller`` as a process, on the test stack."""
    return {
        **os.environ,
        "NATS_URL": stack.nats_url,
        "DATABASE_URL": database,
        "PRODUCT_DATABASE_URL": database,
        "VAULT_ADDR": stack.vault_addr,
        "VAULT_TOKEN": bootstrap.service_token_id("poller"),
        **dovecot.settings,
        **more,
    }


async def run_poller_once(env: dict[str, str]) -> bytes:
    """``python -m keybuzz_poller --once``: what it printed, once it exited 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "keybuzz_poller",
        "--once",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # A process's start (imports, migrations) takes minutes on a busy machine: a hang's bound.
    out, err = await asyncio.wait_for(process.communicate(), until_the_limit())
    assert process.returncode == 0, err.decode()[-2000:]
    return out
