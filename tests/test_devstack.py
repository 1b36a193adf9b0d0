"""The development stack as a developer runs it: make up / make down / make run + Ctrl-C.

Runs the real supervisor on the default ports (docs/CONTRACTS.md, "Development stack"), in a scratch
folder so that .data/ of the checkout is untouched. Skipped when a stack is
already running on those ports.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import hvac
import pytest
from keybuzz_devstack.infra import port_open
from keybuzz_devstack.stack import DEFAULT_PORTS, SERVICES
from keybuzz_devstack.testing import removed_unwaited, stack_ports_claimed
from keybuzz_shared.settings import CommonSettings

PORTS = DEFAULT_PORTS
# Another session's test on the default ports (another checkout's, another worker's) is
# waited for: it holds them through a start (up to 240 s) and a stop.
PORTS_WAIT_SECONDS = 300


@pytest.fixture
def stack_root() -> Iterator[Path]:
    """The stack's KEYBUZZ_ROOT, on the default ports claimed for the test
    (``stack_ports_claimed``); skipped when a stack no test claimed runs there (a
    developer's). The root is a scratch folder outside pytest's own: the stack's PostgreSQL
    and Dovecot run as system users who must traverse to it, and any pytest session that
    starts on the machine closes ``/tmp/pytest-of-<user>`` to its owner again."""
    with stack_ports_claimed(0, within=PORTS_WAIT_SECONDS) as claimed:
        if not claimed:
            pytest.fail(
                f"the default ports stayed claimed by another test for {PORTS_WAIT_SECONDS} s"
            )
        if any(port_open(p) for p in PORTS):
            pytest.skip("a stack already runs on the default ports")
        root = Path(tempfile.mkdtemp(prefix="keybuzz-devstack-"))
        try:
            yield root
        finally:
            removed_unwaited(root)  # its ~2,000 files take seconds to unlink


def devstack(
    root: Path, command: str, args: list[str] | None = None, **kwargs
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keybuzz_devstack", command, *(args or [])],
        cwd=root,
        env={**os.environ, "KEYBUZZ_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=240,
        **kwargs,
    )


def our_processes(root: Path) -> list[str]:
    """Processes whose command line or working directory is inside ``root``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if int(pid) != os.getpid() and (str(root) in cmdline or cwd.startswith(str(root))):
            found.append(cmdline)
    return found


async def product_tenant_ids() -> set[str]:
    conn = await asyncpg.connect(CommonSettings().product_database_url)
    try:
        return {r["id"] for r in await conn.fetch("SELECT id FROM tenants")}
    finally:
        await conn.close()


def wait_for_synced_tenant(root: Path, tenant_id: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply = devstack(
            root, "req", args=["keybuzz.tenant-sync.status", f'{{"tenantId":"{tenant_id}"}}']
        )
        if reply.returncode == 0 and not reply.stdout.startswith("error"):
            status = json.loads(reply.stdout)
            if status["marketplace"]["exists"] and status["inboundAddresses"]:
                return status
        time.sleep(0.5)
    raise AssertionError(f"tenant-sync never reported {tenant_id}: {reply.stdout} {reply.stderr}")


def assert_all_ready() -> None:
    for port in SERVICES.values():
        response = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
        assert response.status_code == 200, response.text
    assert httpx.get("http://127.0.0.1:8900/health", timeout=5).status_code == 200


# One stack's life as a developer lives it, on one scratch root: ``make run`` stopped by
# Ctrl-C, then ``make up`` on the same data and ``make down``; each leaves nothing running.
# Two starts, each with its own 240 s bound (the whole stack on a loaded machine), after a
# wait for the default ports.
@pytest.mark.timeout(480 + PORTS_WAIT_SECONDS)
def test_run_stops_on_ctrl_c_then_up_starts_again_and_down_leaves_nothing_behind(stack_root):
    env = {**os.environ, "KEYBUZZ_ROOT": str(stack_root), "PYTHONUNBUFFERED": "1"}
    run = subprocess.Popen(
        [sys.executable, "-m", "keybuzz_devstack", "run"],
        cwd=stack_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        assert run.stdout is not None
        for line in run.stdout:
            if "KeyBuzz development stack is ready" in line or time.monotonic() > deadline:
                break
        assert_all_ready()
    finally:
        run.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            exit_code = run.wait(timeout=90)
        except subprocess.TimeoutExpired:
            run.kill()
            devstack(stack_root, "down")  # a failed stop leaves no stack for the next tests
            raise
    assert exit_code == 0
    assert our_processes(stack_root) == []
    assert not any(port_open(p) for p in PORTS)

    # A second start on the same data works (no stale pid file or socket in the way), in the
    # background; down then stops it all.
    up = devstack(stack_root, "up")
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        assert "KeyBuzz development stack is ready" in up.stdout
        assert "amzn1.application-oa2-client.keybuzz-sandbox" in up.stdout
        assert_all_ready()  # their streams were provisioned (the services only wait for them)
        conf = stack_root / ".data" / "supervisord.conf"  # every service's NATS password
        assert conf.stat().st_mode & 0o777 == 0o600
        # bootstrap seeded seed 004's product tenants and the sandbox app credentials
        assert {"ecomlg-001", "kbz-004", "tenant_test_dev"} <= asyncio.run(product_tenant_ids())
        app = hvac.Client("http://127.0.0.1:8200", token="keybuzz-dev-root").secrets.kv.v2
        secret = app.read_secret_version(path="keybuzz/amazon_spapi/app", mount_point="secret")
        assert secret["data"]["data"]["client_id"] == "amzn1.application-oa2-client.keybuzz-sandbox"
        # The operator's path through the running stack: publish an event, ask a service.
        event = '{"tenantId":"kbz-005","name":"Shop","plan":"pro","status":"active","country":"FR","createInboundAddress":true}'
        assert devstack(stack_root, "pub", args=["tenant.created", event]).returncode == 0
        status = wait_for_synced_tenant(stack_root, "kbz-005")
        assert status["marketplace"]["plan"] == "PRO"
        assert status["inboundAddresses"][0]["email"].startswith("amazon.kbz-005.fr.")
    finally:
        down = devstack(stack_root, "down")
    assert down.returncode == 0 and "stopped" in down.stdout
    gone_by = time.monotonic() + 10  # a stopped server's last children: waited on, not slept
    while our_processes(stack_root) and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert our_processes(stack_root) == []
    assert not any(port_open(p) for p in PORTS)
    assert not (stack_root / ".data" / "supervisord.pid").exists()


def test_external_servers_are_used_and_not_started():
    from keybuzz_devstack.stack import plan_parts

    env = {
        "NATS_URL": "nats://nats.example:4222",
        "DATABASE_URL": "postgresql://u@db.example/keybuzz_backend",
        "PRODUCT_DATABASE_URL": "postgresql://u@db.example/keybuzz",
        "VAULT_ADDR": "https://vault.example:8200",
        "VAULT_TOKEN": "s.external",
        "IMAP_HOST": "imap.example",
        "SQS_ENDPOINT": "https://sqs.eu-west-1.amazonaws.com",
        "JWT_SECRET": "from-the-caller",
    }
    parts, shared = plan_parts(env)
    assert [p.name for p in parts] == [
        "sandbox",
        "oauth",
        "poller",
        "orders",
        "tenant-sync",
        "console",
    ]
    assert "NATS_URL" not in shared and "VAULT_ADDR" not in shared  # inherited unchanged
    assert "IMAP_HOST" not in shared  # nor Dovecot: the caller's IMAP server
    assert shared["JWT_SECRET"] == "from-the-caller"
    # with our own OpenBao each service gets its own token; with an external one, the caller's
    assert all("VAULT_TOKEN" not in p.env for p in parts)


def test_the_supervisor_configuration_is_readable_by_its_owner_only(tmp_path, monkeypatch):
    """It holds every NATS password; one written earlier with 0644 is closed too."""
    from keybuzz_devstack import stack

    monkeypatch.setattr(stack, "CONF", tmp_path / "supervisord.conf")
    monkeypatch.setattr(stack, "LOGS", tmp_path / "logs")
    stack.CONF.write_text("old")
    stack.CONF.chmod(0o644)
    part = stack.Part("oauth", ["true"], env={"NATS_USER": "oauth", "NATS_PASSWORD": "s3cret"})
    stack.write_config([part])
    assert stack.CONF.stat().st_mode & 0o777 == 0o600
    assert 'NATS_PASSWORD="s3cret"' in stack.CONF.read_text()
