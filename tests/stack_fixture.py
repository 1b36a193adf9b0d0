"""The development stack exactly as `make up` starts it, for the end-to-end and crash tests.

``python -m keybuzz_devstack up`` runs in a scratch ``KEYBUZZ_ROOT`` on ports shifted
by ``KEYBUZZ_PORT_OFFSET`` (the first offset whose ports are all free, from 150), so
it never touches a developer's stack or ``.data/``. One stack serves the whole session
(``made_up_stack``, registered in tests/conftest.py): starting it costs ~15 s on two
shared cores, and every test works with tenants of its own. ``down`` ends it.

Everything is reached from outside, as a user, an operator or Amazon would: HTTP,
NATS, SQL on the stack's PostgreSQL, supervisorctl and signals for the crash tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import asyncpg
import httpx
import nats
import pytest
from keybuzz_devstack import infra
from keybuzz_devstack.stack import DEFAULT_PORTS
from keybuzz_devstack.testing import removed_unwaited, stack_ports_claimed, until_the_limit
from keybuzz_sandbox.testing import ConsentForm
from keybuzz_shared.auth import issue_token
from keybuzz_shared.events import TenantCreated, encode_event, event_headers
from keybuzz_shared.settings import DEV_JWT_SECRET, DEV_POSTGRES_PASSWORD
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

# No two of them (nor 0, the developer's stack) differ by the distance between two of the
# stack's ports (stack.DEFAULT_PORTS): 200 and 400 did, and the stack at 200 kept OpenBao's
# cluster port (8401) where the one at 400 wanted oauth.
CANDIDATE_OFFSETS = (150, 250, 400, 550, 650, 900, 1050)
SERVICES = ("oauth", "poller", "orders", "tenant-sync")
SERVICE_PORTS = {"oauth": 8001, "poller": 8002, "orders": 8003, "tenant-sync": 8004}
INTERNAL_KEY = "keybuzz-dev-internal"
INBOUND_DOMAIN = "inbound.keybuzz.test"
SELLER = "A12BCIS2R7HD4D"  # the sandbox's seeded FR seller: 94 orders over 90 days
FR = "A13V1IB3VIYZZH"
OAUTH_API = "/api/v1/marketplaces/amazon"
# Settings of docs/CONTRACTS.md, "Configuration" that would point the stack at outside servers: never inherited.
EXTERNAL_SETTINGS = (
    "NATS_URL",
    "DATABASE_URL",
    "PRODUCT_DATABASE_URL",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "IMAP_HOST",
    "LMTP_HOST",
)
# What the tests give `make up`, as a developer may (every configuration variable of docs/CONTRACTS.md reaches the services):
# polls every 3 s so mail turns into tickets quickly (Fnac's and Darty's shops every second:
# their tests wait out polls that must not read a message), backfill pages of 20 orders so the
# backfill has pages enough to be interrupted; everything else is the default.
STACK_SETTINGS = {
    "POLL_INTERVAL_SECONDS": "3",
    "FNAC_POLL_INTERVAL_SECONDS": "1",
    "POLL_RETRY_BASE_SECONDS": "1",
    "BACKFILL_PAGE_SIZE": "20",
    # A killed orders process's backfill is resumed once its lease expires (120 s by default).
    "BACKFILL_LEASE_SECONDS": "15",
}


@contextmanager
def free_offset() -> Iterator[int]:
    """An offset whose ports are free, claimed machine-wide (``stack_ports_claimed``) until
    leaving: a port seen free is no promise that another session's stack will not take it
    before ours binds it."""
    # Parallel test workers (pytest-xdist) look from different places: two seldom try the
    # same offset at the same moment.
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    start = worker % len(CANDIDATE_OFFSETS)
    for offset in CANDIDATE_OFFSETS[start:] + CANDIDATE_OFFSETS[:start]:
        with stack_ports_claimed(offset) as claimed:
            if claimed and not any(infra.port_open(port + offset) for port in DEFAULT_PORTS):
                yield offset
                return
    raise RuntimeError(f"no free port offset among {CANDIDATE_OFFSETS}")


@dataclass
class MadeUpStack:
    """A stack started by ``python -m keybuzz_devstack up``; URLs follow the port offset."""

    root: Path
    offset: int
    env: dict[str, str] = field(default_factory=dict)
    banner: str = ""  # what `up` printed

    def port(self, default: int) -> int:
        return default + self.offset

    @property
    def nats_url(self) -> str:
        """As shown to people (the banner): no credentials."""
        return f"nats://127.0.0.1:{self.port(4222)}"

    @property
    def operator_nats_url(self) -> str:
        """As the operator connects: nothing on NATS is anonymous (the stack's users file)."""
        return infra.as_operator(self.nats_url, self.root / ".data" / "nats-users.json")

    @property
    def backend_db(self) -> str:
        return f"postgresql://postgres:{DEV_POSTGRES_PASSWORD}@127.0.0.1:{self.port(5432)}/keybuzz_backend"

    @property
    def product_db(self) -> str:
        return f"postgresql://postgres:{DEV_POSTGRES_PASSWORD}@127.0.0.1:{self.port(5432)}/keybuzz"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.port(8900)}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(SERVICE_PORTS[service])}"

    # --- the command line -----------------------------------------------------------

    def cli(
        self, command: str, *args: str, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "keybuzz_devstack", command, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def up(self) -> str:
        started = self.cli("up")
        if started.returncode != 0:
            self.cli("down")
            raise RuntimeError(f"`keybuzz_devstack up` failed:\n{started.stderr[-4000:]}")
        return started.stdout

    def down(self) -> None:
        self.cli("down", timeout=120)

    def supervisorctl(self, *args: str) -> str:
        conf = self.root / ".data" / "supervisord.conf"
        result = subprocess.run(
            [infra.venv_bin("supervisorctl"), "-c", str(conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout.strip()

    def pid(self, program: str) -> int:
        """The process supervisord runs for ``program`` (0 when it is not running)."""
        answer = self.supervisorctl("pid", program)
        return int(answer) if answer.isdigit() else 0

    def log_tail(self, program: str, lines: int = 60) -> str:
        path = self.root / ".data" / "logs" / f"{program}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # --- clients ----------------------------------------------------------------------

    def headers(self, tenant: str, user: str = "agent-1") -> dict[str, str]:
        token = issue_token(DEV_JWT_SECRET, user, tenants=[tenant])
        return {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}

    @asynccontextmanager
    async def nats(self) -> AsyncIterator[Any]:
        # Reconnects forever: the crash test restarts NATS under this connection.
        nc = await nats.connect(
            self.operator_nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )
        try:
            yield nc
        finally:
            await nc.close()

    async def fetch(self, database: str, query: str, *args: Any) -> list[asyncpg.Record]:
        """One query on a connection of its own (survives PostgreSQL restarts between calls)."""
        conn = await asyncpg.connect(database, timeout=10)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def ready(self) -> list[str]:
        """The parts that are not ready (empty: the whole stack answers)."""
        urls = {name: f"{self.url(name)}/ready" for name in SERVICES}
        urls["sandbox"] = f"{self.sandbox_url}/health"
        not_ready = []
        async with httpx.AsyncClient(timeout=5) as http:
            for name, url in urls.items():
                try:
                    if (await http.get(url)).status_code != 200:
                        not_ready.append(name)
                except httpx.HTTPError:
                    not_ready.append(name)
        return not_ready


async def stream_events(nc: Any, stream: str, subject: str) -> list[dict[str, Any]]:
    """Every message of ``subject`` stored in ``stream``, read by an ephemeral consumer."""
    js = nc.jetstream()
    info = await js.stream_info(stream, subjects_filter=subject)
    expected = sum((info.state.subjects or {}).values())
    if not expected:
        return []
    sub = await js.pull_subscribe(
        subject,
        stream=stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
    )
    events: list[dict[str, Any]] = []
    try:
        while len(events) < expected:
            try:
                batch = await sub.fetch(256, timeout=2)
            except TimeoutError:
                break
            events += [json.loads(message.data) for message in batch]
    finally:
        await sub.unsubscribe()
    return events


async def dead_letters(nc: Any) -> list[dict[str, Any]]:
    """What every consumer parked on the DEADLETTER stream: subject and reason."""
    js = nc.jetstream()
    try:
        info = await js.stream_info("DEADLETTER", subjects_filter=">")
    except nats.js.errors.NotFoundError:
        return []
    if not info.state.messages:
        return []
    sub = await js.pull_subscribe(
        ">",
        stream="DEADLETTER",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
    )
    parked: list[dict[str, Any]] = []
    try:
        while len(parked) < info.state.messages:
            try:
                batch = await sub.fetch(256, timeout=2)
            except TimeoutError:
                break
            parked += [
                {
                    "subject": m.subject,
                    "reason": (m.headers or {}).get("KeyBuzz-Dead-Letter-Reason"),
                }
                for m in batch
            ]
    finally:
        await sub.unsubscribe()
    return parked


# --- what the product app, the seller and Amazon's relay do --------------------------------


async def create_tenant(stack: MadeUpStack, nc: Any, tenant: str) -> None:
    """As the product app does: its own row first, then `tenant.created` on NATS."""
    await stack.fetch(
        stack.product_db,
        "INSERT INTO tenants (id, name, plan, status, country) VALUES ($1, $2, 'pro', 'active', 'FR')",
        tenant,
        f"Shop {tenant}",
    )
    event = TenantCreated(
        tenant_id=tenant,
        name=f"Shop {tenant}",
        plan="pro",
        status="active",
        country="FR",
        create_inbound_address=True,
    )
    ack = await nc.jetstream().publish(
        event.type, encode_event(event), headers=event_headers(event)
    )
    assert ack.stream == "TENANTS"


async def tenant_status(stack: MadeUpStack, tenant: str) -> dict[str, Any]:
    """tenant-sync's view of a tenant (empty when it does not know it yet)."""
    async with httpx.AsyncClient(timeout=20) as http:
        response = await http.get(
            f"{stack.url('tenant-sync')}/api/v1/tenants/status/{tenant}",
            headers={"X-Internal-Key": INTERNAL_KEY},
        )
    assert response.status_code in (200, 404), response.text
    return dict(response.json()) if response.status_code == 200 else {}


async def inbound_address(stack: MadeUpStack, tenant: str, within: float = 30) -> dict[str, Any]:
    """The tenant's one inbound address, once tenant-sync shows it ready: the poller's MX
    takes its mail (``receiving``; before, a mail to it could be refused with 550)."""

    async def made() -> dict[str, Any] | None:
        addresses = (await tenant_status(stack, tenant)).get("inboundAddresses")
        return addresses[0] if addresses and addresses[0]["receiving"] else None

    return dict(await wait_for(made, within, f"tenant-sync never gave {tenant} an address"))


async def connect_amazon(stack: MadeUpStack, tenant: str, seller: str = SELLER) -> str:
    """The seller's browser round trip; returns where the callback sent the browser.

    start → Seller Central's consent page (the sandbox) → the form posted as the
    seller → Amazon's redirect to our callback → the frontend. ``takeover``: the
    seller may be connected to another test's tenant already (the stack is shared).
    """
    oauth = stack.url("oauth")
    async with httpx.AsyncClient(timeout=30) as browser:  # keeps the binding cookie
        started = await browser.post(
            f"{oauth}{OAUTH_API}/oauth/start",
            headers=stack.headers(tenant),
            json={"marketplace": "FR", "takeover": True},
        )
        assert started.status_code == 200, started.text
        auth_url = started.json()["authUrl"]
        assert auth_url.startswith(f"{stack.sandbox_url}/apps/authorize/consent?"), auth_url

        page = await browser.get(auth_url)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        form = ConsentForm.parse(page.text)
        assert form.action, "no form on the consent page"
        form.fields.update({"selling_partner_id": seller, "action": "authorize"})
        consented = await browser.post(urljoin(auth_url, form.action), data=form.fields)
        assert consented.status_code == 302, consented.text
        callback = consented.headers["location"]
        assert callback.startswith(f"{oauth}{OAUTH_API}/oauth/callback?"), callback
        assert parse_qs(urlsplit(callback).query)["selling_partner_id"] == [seller]

        landed = await browser.get(callback)
    assert landed.status_code == 303, landed.text
    return str(landed.headers["location"])


async def relay(stack: MadeUpStack, address: str, count: int) -> httpx.Response:
    """Amazon's relay: buyer mails about the seller's recent orders, by SMTP to our MX."""
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.post(
            f"{stack.sandbox_url}/_sandbox/messages",
            json={"sellingPartnerId": SELLER, "to": address, "count": count},
        )


async def refill_rate_limits(stack: MadeUpStack) -> None:
    """Every test connects the same seeded seller: give each its own searchOrders burst."""
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{stack.sandbox_url}/_sandbox/ratelimits/reset")
    assert response.status_code in (200, 204), response.text


def new_tenant(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def made_up_stack() -> Iterator[MadeUpStack]:
    root = Path(tempfile.mkdtemp(prefix="keybuzz-made-up-"))
    with free_offset() as offset:
        env = {k: v for k, v in os.environ.items() if k not in EXTERNAL_SETTINGS}
        env.update(STACK_SETTINGS, KEYBUZZ_ROOT=str(root), KEYBUZZ_PORT_OFFSET=str(offset))
        stack = MadeUpStack(root, offset, env)
        started = time.monotonic()
        stack.banner = stack.up()
        print(f"stack up in {time.monotonic() - started:.1f}s on offset {offset}")
        try:
            yield stack
        finally:
            if os.environ.get("KEYBUZZ_TEST_KEEP_STACK") == "1":  # debugging: look at it after
                print(f"stack left running: KEYBUZZ_ROOT={root} KEYBUZZ_PORT_OFFSET={offset}")
            else:
                stack.down()
                # Its ~2,000 files (PostgreSQL's, Dovecot's) take seconds to unlink: not
                # waited for, as the session's own folder (testing.removed_unwaited).
                removed_unwaited(root)


async def wait_for(probe: Any, within: float | None, what: str, every: float = 0.3) -> Any:
    """Poll ``probe`` (async, returns something truthy when done) for up to ``within`` s
    (None: what is left of the test's time limit, ``until_the_limit``: a bound for a hang,
    where a busy machine may take any time and the test asserts the condition itself)."""
    within = until_the_limit() if within is None else within
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"{what}: not within {within}s (last: {last!r})")
