"""The dev console refuses what a hostile web page could make a developer's browser do.

Seen before the fix: a cross-site ``text/plain`` POST ran tenant-sync's ``sync-all``
and made the sandbox send mails, and a request with ``Host: rebind.evil.example``
(DNS rebinding) was served. The services behind the console are pointed at a closed
port here: a call that passes the guard is forwarded and answered 502 (the service
did not answer), a refused one is answered 403/400 before anything is forwarded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from keybuzz_devstack.console.app import CONSOLE_HEADER, create_app
from keybuzz_devstack.console.settings import load_console_settings
from keybuzz_devstack.infra import free_port
from litestar.testing import AsyncTestClient

ORIGIN = "http://127.0.0.1:3000"
SYNC_ALL = "/api/tenant-sync/v1/tenants/sync-all"
BUYER_MESSAGES = "/api/console/buyer-messages"


@pytest.fixture
async def console() -> AsyncIterator[AsyncTestClient]:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: forwarded calls get 502
    settings = load_console_settings(
        {
            "CONSOLE_TENANT_SYNC_URL": closed,
            "CONSOLE_POLLER_URL": closed,
            "CONSOLE_SANDBOX_URL": closed,
        }
    )
    async with AsyncTestClient(create_app(settings), base_url=ORIGIN) as client:
        yield client


async def test_a_cross_site_simple_post_is_refused_before_it_reaches_a_service(console) -> None:
    for path in (SYNC_ALL, BUYER_MESSAGES):
        answer = await console.post(
            path,
            content=b'{"sellingPartnerId": "A1", "to": "a@b.c"}',
            headers={"content-type": "text/plain", "origin": "http://evil.example"},
        )
        assert answer.status_code == 403, (path, answer.text)
        assert "cross-site" in answer.json()["message"]


async def test_a_state_change_without_the_console_header_is_refused(console) -> None:
    answer = await console.post(SYNC_ALL, headers={"origin": ORIGIN})
    assert answer.status_code == 403
    assert CONSOLE_HEADER in answer.json()["message"]
    answer = await console.delete("/api/oauth/v1/marketplaces/amazon/connection")
    assert answer.status_code == 403


async def test_the_console_page_itself_passes(console) -> None:
    answer = await console.post(SYNC_ALL, headers={"origin": ORIGIN, CONSOLE_HEADER: "1"})
    assert answer.status_code == 502  # forwarded: tenant-sync (closed port) did not answer
    answer = await console.post(SYNC_ALL, headers={CONSOLE_HEADER: "1"})  # no Origin: curl
    assert answer.status_code == 502


async def test_a_rebound_host_name_is_not_served(console) -> None:
    answer = await console.get("/", headers={"host": "rebind.evil.example:3000"})
    assert answer.status_code == 400
    answer = await console.post(
        SYNC_ALL,
        headers={
            "host": "rebind.evil.example",
            "origin": "http://rebind.evil.example",
            CONSOLE_HEADER: "1",
        },
    )
    assert answer.status_code == 400
    assert (await console.get("/health")).status_code == 200  # 127.0.0.1 is served
