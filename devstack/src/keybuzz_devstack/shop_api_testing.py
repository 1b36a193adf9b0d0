"""For tests of a shop API connector through oauth and the poller run in-process
(``testing.start_service``): their HTTP API as an agent of the tenant calls it, a
connection's row, and the poller against a marketplace double, polling and sending only
when the test says."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from keybuzz_shared.auth import issue_token

from keybuzz_devstack.testing import MailServer, RunningService


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
