"""The MX as production runs it: the poller as a process of its own (``python -m keybuzz_poller``,
as the dev stack's supervisord starts it: uvicorn on uvloop), probed from outside as an
attacker would, against the test session's NATS, PostgreSQL, OpenBao and Dovecot."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from keybuzz_devstack import bootstrap, infra
from keybuzz_devstack.testing import (
    NOWHERE,
    Infra,
    MailServer,
    eventually,
    service_migrations,
    service_nats_access,
)
from keybuzz_poller.service import DEFINITION as POLLER
from mx_client import RawSmtp, limit_hits, mx_samples

IDLE_TIMEOUT_SECONDS = 2
MAX_SESSIONS = 2
TIMED_OUT = (421, "4.4.2 Session timed out, closing")
TOO_MANY = (421, "4.7.0 Too many connections, try again later")


class PollerProcess:
    def __init__(self, process: asyncio.subprocess.Process, log: Path, http_port: int) -> None:
        self.process, self.log, self.http_port = process, log, http_port

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.http_port}") as http:
            return await http.get(path, timeout=5)

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)


@pytest.fixture
async def mx_process(
    stack: Infra,
    make_database: Callable[..., Awaitable[str]],
    nats_users: dict[str, str],
    dovecot: MailServer,
    tmp_path: Path,
) -> AsyncIterator[tuple[PollerProcess, int]]:
    """The poller process with a small idle timeout and session cap; (process, MX port)."""
    mx_port, http_port = infra.free_port(), infra.free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": await make_database("svc", service_migrations(POLLER)),
        "PRODUCT_DATABASE_URL": await make_database("product"),
        "VAULT_ADDR": stack.vault_addr,
        "VAULT_TOKEN": bootstrap.service_token_id("poller"),
        **service_nats_access("poller", stack.nats_url, nats_users),
        "LWA_ENDPOINT": f"{NOWHERE}/auth/o2/token",
        "SPAPI_ENDPOINT": NOWHERE,
        **dovecot.settings,
        "POLLER_PORT": str(http_port),
        "MX_PORT": str(mx_port),
        "POLL_ENABLED": "false",
        "REPLY_SENDER_ENABLED": "false",
        "MX_IDLE_TIMEOUT_SECONDS": str(IDLE_TIMEOUT_SECONDS),
        "MX_MAX_SESSIONS": str(MAX_SESSIONS),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "poller.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "keybuzz_poller",
            env=environ,
            cwd=tmp_path,
            stdout=out,
            stderr=out,
        )
    poller = PollerProcess(process, log, http_port)

    async def serving() -> bool:  # the MX listens before HTTP is served (on_startup)
        assert process.returncode is None, log.read_text()
        try:
            return (await poller.get("/health")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await eventually(serving)  # a loaded machine imports slowly
        yield poller, mx_port
    finally:
        await poller.stop()


async def test_the_mx_process_ends_silent_sessions_and_refuses_over_the_cap_with_421(
    mx_process: tuple[PollerProcess, int],
) -> None:
    poller, mx_port = mx_process
    loop = asyncio.get_running_loop()
    # Silent sessions, as an attacker holds them: the greeting read, nothing sent.
    silent = [await RawSmtp.to_port(mx_port) for _ in range(MAX_SESSIONS)]
    for smtp in silent:
        assert (await smtp.reply())[0] == 220
    started = loop.time()

    for _ in range(3):  # over the cap: told, and closed at once
        refused = await RawSmtp.to_port(mx_port)
        assert await refused.reply() == TOO_MANY
        assert await refused.closed_by_mx()

    for smtp in silent:
        assert await smtp.reply(within=IDLE_TIMEOUT_SECONDS + 5) == TIMED_OUT
        assert await smtp.closed_by_mx()
    assert loop.time() - started < IDLE_TIMEOUT_SECONDS + 3

    # Their places are free again: a sender that speaks is served.
    async def greeted() -> bool:
        smtp = await RawSmtp.to_port(mx_port)
        code = (await smtp.reply())[0]
        if code == 220:
            assert (await smtp.command("QUIT"))[0] == 221
        smtp.close()
        return code == 220

    await eventually(greeted)
    metrics = mx_samples((await poller.get("/metrics")).text)
    assert limit_hits(metrics, "idle_timeout") == MAX_SESSIONS
    assert limit_hits(metrics, "sessions_per_instance") == 3

    await poller.stop()
    logged = poller.log.read_text()
    assert "MX limit hit" in logged  # the log is the process's own, and was written
    assert "Traceback" not in logged and "AssertionError" not in logged, logged[-4000:]
