"""Shared pieces of the oauth tests: a service wired to the sandbox, a browser, events.

Everything is real: OpenBao, PostgreSQL, NATS and the Amazon sandbox over HTTP.
Each service gets its own app source in Vault (so the redirect URI can name the
random port it runs on); a module's tests share one (``kit``, ``shop_kit``), each test
with tenant ids of its own, and a test that needs a setting of its own starts its own
(``make_kit``). The service and its browser
(``make_kit``, ``OauthKit``) are ``keybuzz_devstack.oauth_testing``, shared with the
orders service's and the connectors' tests.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn

# What the orders service's and the connectors' tests share with these (an oauth service
# on the sandbox, its seeded seller, Vault as root), under the names these tests use.
from keybuzz_devstack.oauth_testing import FR as FR
from keybuzz_devstack.oauth_testing import SELLER as SELLER
from keybuzz_devstack.oauth_testing import SPAPI_CALLER as SPAPI_CALLER
from keybuzz_devstack.oauth_testing import LwaCounter as LwaCounter
from keybuzz_devstack.oauth_testing import LwaFaults as LwaFaults
from keybuzz_devstack.oauth_testing import OauthKit as OauthKit
from keybuzz_devstack.oauth_testing import fresh as fresh
from keybuzz_devstack.oauth_testing import frontend_result as frontend_result
from keybuzz_devstack.oauth_testing import lwa_faults as lwa_faults
from keybuzz_devstack.oauth_testing import make_kit as make_kit
from keybuzz_devstack.oauth_testing import make_module_kit as make_module_kit
from keybuzz_devstack.oauth_testing import module_kit as module_kit
from keybuzz_devstack.oauth_testing import new_tenant as new_tenant
from keybuzz_devstack.oauth_testing import read_secret as read_secret
from keybuzz_devstack.oauth_testing import revoke_in_sandbox as revoke_in_sandbox
from keybuzz_devstack.oauth_testing import root_vault as root_vault
from keybuzz_devstack.oauth_testing import shared_kit as shared_kit
from keybuzz_devstack.oauth_testing import tenant_path as tenant_path
from keybuzz_devstack.oauth_testing import token_service as token_service
from keybuzz_devstack.testing import asgi_body
from keybuzz_devstack.testing import find_event as find_event  # the oauth tests take it here

OTHER_SELLER = "A3DESELLERBENCH"  # the sandbox's benchmark seller (DE)


async def database_dump(pool: Any) -> str:
    """Every row of every table of the service's database, as text: what a dump would show."""
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    parts = []
    for table in tables:
        rows = await pool.fetch(f'SELECT * FROM "{table["table_name"]}"')
        parts.extend(
            repr(
                {
                    k: bytes(v).decode(errors="replace") if isinstance(v, bytes) else v
                    for k, v in dict(row).items()
                }
            )
            for row in rows
        )
    assert any("marketplace_connections" == t["table_name"] for t in tables)
    return "\n".join(parts)


def callback_query(callback_url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(callback_url).query).items()}


@dataclass
class Hold:
    """Requests matching ``method`` and ``path_part`` reach Vault; their answers wait."""

    method: str
    path_part: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)


class VaultGate:
    """A pass-through HTTP proxy in front of the real OpenBao that can hold chosen answers.

    Holding the answer (not the request) models a service paused right after
    Vault applied its change: the way to make a race happen in a fixed order.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        # Bound now: connections wait in the backlog until the server serves them.
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.holds: list[Hold] = []
        self.http = httpx.AsyncClient(timeout=30)
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_config=None,  # uvicorn's own logging setup is process-wide
            access_log=False,
            interface="asgi3",
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    def hold(self, method: str, path_part: str) -> Hold:
        rule = Hold(method, path_part)
        self.holds.append(rule)
        return rule

    async def start(self) -> VaultGate:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.socket]))
        return self

    async def stop(self) -> None:
        for rule in self.holds:
            rule.released.set()
        self.server.should_exit = True
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)
        await self.http.aclose()

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await asgi_body(receive)
        path = scope["path"] + (
            f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        )
        headers = {
            k.decode(): v.decode()
            for k, v in scope["headers"]
            if k.lower() not in (b"host", b"content-length", b"connection")
        }
        answer = await self.http.request(
            scope["method"], self.upstream + path, headers=headers, content=body
        )
        for rule in self.holds:
            if scope["method"] == rule.method and rule.path_part in scope["path"]:
                rule.arrived.set()
                await rule.released.wait()
        content_type = answer.headers.get("content-type", "application/json").encode()
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": [(b"content-type", content_type)],
            }
        )
        await send({"type": "http.response.body", "body": answer.content})


@pytest.fixture
async def vault_gate(stack: Any) -> AsyncIterator[VaultGate]:
    gate = await VaultGate(stack.vault_addr).start()
    try:
        yield gate
    finally:
        await gate.stop()


FNAC_API = "/fnac/api.php/"  # the sandbox's Fnac double, under its URL


@pytest.fixture
def kit(shared_kit: OauthKit) -> OauthKit:
    """The module's oauth service, ``fresh`` for the test (``shared_kit``); a test that needs
    a setting of its own starts its own (``make_kit``)."""
    return shared_kit


@pytest.fixture(scope="module")
async def module_shop_kit(make_module_kit: Any, sandbox_url: str) -> OauthKit:
    """``module_kit`` checking Fnac's and Darty's credentials with the sandbox's double."""
    kit: OauthKit = await make_module_kit(FNAC_API_URL=sandbox_url + FNAC_API)
    return kit


@pytest.fixture
async def shop_kit(module_shop_kit: OauthKit) -> AsyncIterator[OauthKit]:
    """``module_shop_kit``, ``fresh`` for the test."""
    async with fresh(module_shop_kit) as kit:
        yield kit
