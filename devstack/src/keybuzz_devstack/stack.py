"""The whole development stack under supervisord (``make run``, ``make up``, ``make down``).

supervisord (a well-kept supervisor) starts, restarts and stops every part;
this module writes its configuration, bootstraps databases and Vault once the
servers answer, waits until every part is ready, and prints where each listens.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from keybuzz_sandbox import doubles, seeded
from keybuzz_sandbox.config import SmtpLogin
from keybuzz_sandbox.double_kit.ports import port_offset
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.seam import Connector, connects_by
from keybuzz_shared.vault import VaultClient
from supervisor.xmlrpc import SupervisorTransport

from keybuzz_devstack import bootstrap, dovecot, infra, sqs
from keybuzz_devstack.consent_apps import register_consent_apps, start_url
from keybuzz_devstack.console.settings import CHANNEL_PAGES

ROOT = Path(os.environ.get("KEYBUZZ_ROOT", Path.cwd()))
DATA = ROOT / ".data"
LOGS = DATA / "logs"
CONF = DATA / "supervisord.conf"
PIDFILE = DATA / "supervisord.pid"
SOCKET = DATA / "supervisor.sock"
READY_TIMEOUT = 180.0
STATE_CHECK_SECONDS = 2.0  # between two looks at supervisord's states while parts start


def _port_offset() -> int:
    """The stack's offset, read as the doubles read it (one bound, one message)."""
    try:
        return port_offset(os.environ)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


# KEYBUZZ_PORT_OFFSET=N shifts every default port of the stack by N so that a second
# stack (a test's, a demo's) runs beside a developer's (README, "Running two stacks").
PORT_OFFSET = _port_offset()


# Every default port of the stack (docs/CONTRACTS.md, "Development stack") and NATS's monitor, unshifted: what a
# second stack must not collide with, and what tells that a stack already runs.
# 8201: OpenBao's cluster port, which `bao server -dev` binds next to its API (8200 + 1)
# without a flag to move it; two stacks 200 apart once collided there (oauth on 8201).
DEFAULT_PORTS = (
    4222,  # NATS
    8222,  # NATS monitoring
    5432,  # PostgreSQL
    8200,  # OpenBao
    8201,  # OpenBao's cluster port
    8900,  # the Amazon sandbox
    8001,  # oauth
    8002,  # poller
    8003,  # orders
    8004,  # tenant-sync
    2525,  # the MX
    2526,  # the sandbox's Amazon reply relay
    2527,  # the sandbox's reply front (the stack's outbound relay)
    8143,  # Dovecot IMAP
    8024,  # Dovecot LMTP
    3000,  # the console
    4566,  # SQS (moto)
)


def port(default: int) -> int:
    """A default port of the stack (docs/CONTRACTS.md, "Development stack"), shifted by KEYBUZZ_PORT_OFFSET."""
    return default + PORT_OFFSET


NATS_PORT = port(4222)
POSTGRES_PORT = port(5432)
OPENBAO_PORT = port(8200)
SANDBOX_PORT = port(8900)
SANDBOX_URL = f"http://127.0.0.1:{SANDBOX_PORT}"
# The development console (keybuzz_devstack.console): the oauth callback sends the seller there.
CONSOLE_PORT = port(3000)
CONSOLE_URL = f"http://127.0.0.1:{CONSOLE_PORT}"
DEV_DEFAULTS = {
    "JWT_SECRET": "keybuzz-dev-secret-change-me-in-production",
    "INTERNAL_API_KEY": "keybuzz-dev-internal",
    "INBOUND_DOMAIN": "inbound.keybuzz.test",
    # Every marketplace API at the sandbox's double of it.
    **doubles.service_env(SANDBOX_URL),
    "FRONTEND_URL": f"{CONSOLE_URL}{CHANNEL_PAGES}",
    "KEYBUZZ_ENV": "development",
}
SERVICES = {
    "oauth": port(8001),
    "poller": port(8002),
    "orders": port(8003),
    "tenant-sync": port(8004),
}
# Each service reads its HTTP port from this variable (its settings' ENV_NAMES).
PORT_VARIABLES = {
    "oauth": "OAUTH_PORT",
    "poller": "POLLER_PORT",
    "orders": "ORDERS_PORT",
    "tenant-sync": "TENANT_SYNC_PORT",
}
OAUTH_URL = f"http://127.0.0.1:{SERVICES['oauth']}"
OAUTH_CALLBACK_URL = f"{OAUTH_URL}/api/v1/marketplaces/amazon/oauth/callback"
# The poller's MX (SMTP for INBOUND_DOMAIN) runs inside the poller process (docs/POLLER.md).
MX_PORT = port(2525)
MX_URL = f"smtp://127.0.0.1:{MX_PORT}"
# Amazon's relay for sellers' replies, inside the sandbox process (docs/SANDBOX.md).
REPLY_RELAY_PORT = port(2526)
# The stack's outbound relay: the sandbox's reply front, which hands each reply to the relay
# double of its recipient's domain (docs/SANDBOX.md, "Reply front"); the poller sends there.
REPLY_FRONT_PORT = port(2527)
REPLY_FRONT_URL = f"smtp://127.0.0.1:{REPLY_FRONT_PORT}"
# Its login (SMTP AUTH) of this stack (0600): the sandbox takes it, the poller sends with it.
REPLY_FRONT_LOGIN_FILE = DATA / "reply-front-login.json"
DOVECOT_IMAP_PORT = port(8143)
DOVECOT_LMTP_PORT = port(8024)
# The NATS users' passwords of this stack (0600): services get theirs in their environment,
# operators read theirs with `python -m keybuzz_devstack nats-credentials`.
NATS_USERS_FILE = DATA / "nats-users.json"
# The embedded SQS (moto) that carries Amazon's ORDER_CHANGE notifications (docs/ORDERS.md).
SQS_PORT = port(4566)


@dataclass
class Part:
    name: str
    command: list[str]
    ready_url: str | None = None  # HTTP 200 means ready; else the spec's own probe
    spec: infra.ServerSpec | None = None
    env: dict[str, str] = field(default_factory=dict)
    priority: int = 50
    listen: str = ""

    def is_ready(self) -> bool:
        if self.spec:
            return self.spec.is_ready()
        assert self.ready_url
        return infra.http_ok(self.ready_url)


def plan_parts(env: dict[str, str]) -> tuple[list[Part], dict[str, str]]:
    """The parts to run and the environment they share; external servers are not started."""
    shared = {**DEV_DEFAULTS, **{k: v for k, v in env.items() if k in DEV_DEFAULTS}}
    shared["MX_PORT"] = str(MX_PORT)  # the poller listens there, the sandbox relays to it
    front_login = infra.reply_front_login(REPLY_FRONT_LOGIN_FILE)
    # The poller's login at its relay: the front's, unless replies go to an outside relay.
    relay_login: dict[str, str] = {}
    if not env.get("SMTP_RELAY_HOST"):
        shared["SMTP_RELAY_PORT"] = str(REPLY_FRONT_PORT)
        relay_login = {
            "SMTP_RELAY_USERNAME": front_login.username,
            "SMTP_RELAY_PASSWORD": front_login.password,
        }
    parts: list[Part] = []
    nats_passwords: dict[str, str] = {}
    if not env.get("NATS_URL"):  # ours, with a user per service (keybuzz_shared.nats_access)
        nats_passwords = infra.nats_users(NATS_USERS_FILE)
        spec = infra.nats_spec(
            DATA / "nats", NATS_PORT, monitor_port=port(8222), users=nats_passwords
        )
        parts.append(_infra_part(spec, 10))
        shared["NATS_URL"] = infra.without_credentials(spec.url)
    if not env.get("DATABASE_URL"):
        spec = infra.postgres_spec(DATA / "postgres", POSTGRES_PORT)
        parts.append(_infra_part(spec, 10))
        shared["DATABASE_URL"] = f"{spec.url}/keybuzz_backend"
        shared["PRODUCT_DATABASE_URL"] = env.get("PRODUCT_DATABASE_URL") or f"{spec.url}/keybuzz"
    own_vault = not env.get("VAULT_ADDR")
    if own_vault:
        spec = infra.openbao_spec(OPENBAO_PORT)
        parts.append(_infra_part(spec, 10))
        shared["VAULT_ADDR"] = spec.url
    if not env.get("IMAP_HOST"):  # Dovecot (IMAP + LMTP) for the poller's mail path
        spec = dovecot.dovecot_spec(DATA / "dovecot", DOVECOT_IMAP_PORT, DOVECOT_LMTP_PORT)
        parts.append(_infra_part(spec, 10))
        shared.update(dovecot_settings(spec))
    if not env.get("SQS_ENDPOINT"):
        spec = sqs.sqs_spec(SQS_PORT)
        parts.append(_infra_part(spec, 10))
        shared.update(sqs_settings(spec, shared["KEYBUZZ_ENV"]))
    parts.append(
        Part(
            name="sandbox",
            command=[sys.executable, "-m", "keybuzz_sandbox"],
            ready_url=f"{SANDBOX_URL}/health",
            env=sandbox_settings(front_login),
            priority=20,
            listen=SANDBOX_URL,
        )
    )
    for service, http_port in SERVICES.items():
        module = "keybuzz_" + service.replace("-", "_")
        own_token = {"VAULT_TOKEN": bootstrap.service_token_id(service)} if own_vault else {}
        if nats_passwords:
            own_token |= {"NATS_USER": service, "NATS_PASSWORD": nats_passwords[service]}
        if service == "poller":
            own_token |= relay_login
        parts.append(
            Part(
                name=service,
                command=[sys.executable, "-m", module],
                ready_url=f"http://127.0.0.1:{http_port}/ready",
                env={**own_token, PORT_VARIABLES[service]: str(http_port)},
                priority=30,
                listen=f"http://127.0.0.1:{http_port}",
            )
        )
    if shared["KEYBUZZ_ENV"] in {"development", "test"}:  # it mints tokens: refused elsewhere
        parts.append(console_part())
    return parts, shared


def console_part() -> Part:
    """The development console, pointed at this stack's services and sandbox (README, "Console")."""
    urls = {
        f"CONSOLE_{service.replace('-', '_').upper()}_URL": f"http://127.0.0.1:{http_port}"
        for service, http_port in SERVICES.items()
    }
    return Part(
        name="console",
        command=[sys.executable, "-m", "keybuzz_devstack.console"],
        ready_url=f"{CONSOLE_URL}/health",
        env={"CONSOLE_PORT": str(CONSOLE_PORT), "CONSOLE_SANDBOX_URL": SANDBOX_URL, **urls},
        priority=40,
        listen=CONSOLE_URL,
    )


def sandbox_settings(front_login: SmtpLogin) -> dict[str, str]:
    """Where the sandbox listens, the URL it shows, where it relays buyer mail (the MX), the
    login its reply front takes.

    The oauth callback of this stack is registered as an extra redirect URI, as a
    developer registers theirs in Seller Central.
    """
    return {
        "SANDBOX_PORT": str(SANDBOX_PORT),
        "SANDBOX_PUBLIC_URL": SANDBOX_URL,
        "SANDBOX_SMTP_PORT": str(MX_PORT),
        "SANDBOX_REPLY_SMTP_PORT": str(REPLY_RELAY_PORT),
        "SANDBOX_REPLY_FRONT_PORT": str(REPLY_FRONT_PORT),
        "SANDBOX_REPLY_FRONT_USERNAME": front_login.username,
        "SANDBOX_REPLY_FRONT_PASSWORD": front_login.password,
        "SANDBOX_REDIRECT_URIS": OAUTH_CALLBACK_URL,
    }


def sqs_settings(spec: infra.ServerSpec, environment: str) -> dict[str, str]:
    """The environment's notification queue and its DLQ, as moto names them (created once ready)."""
    url = f"{spec.url}/{sqs.ACCOUNT}/{sqs.queue_name(environment)}"
    queues = sqs.Queues(spec.url, url, "", f"{url}-dlq")
    return queues.settings()


def dovecot_settings(spec: infra.ServerSpec) -> dict[str, str]:
    """Where the poller reads (IMAP) and its MX delivers (LMTP); the MX listens on MX_PORT."""
    return {
        "IMAP_HOST": "127.0.0.1",
        "IMAP_PORT": str(spec.port),
        "LMTP_HOST": "127.0.0.1",
        "LMTP_PORT": str(DOVECOT_LMTP_PORT),
    }


def _infra_part(spec: infra.ServerSpec, priority: int) -> Part:
    listen = infra.without_credentials(spec.url)
    return Part(name=spec.name, command=spec.command, spec=spec, priority=priority, listen=listen)


def operator_nats_url() -> str:
    """The dev stack's NATS as the operator (NATS_URL when the stack uses another server)."""
    if url := os.environ.get("NATS_URL"):
        return url
    return infra.as_operator(f"nats://127.0.0.1:{NATS_PORT}", NATS_USERS_FILE)


def _quote(value: str) -> str:
    return '"' + value.replace("%", "%%").replace('"', '\\"') + '"'


def write_config(parts: list[Part]) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    lines = [
        "[supervisord]",
        f"logfile={LOGS / 'supervisord.log'}",
        f"pidfile={PIDFILE}",
        f"childlogdir={LOGS}",
        "nodaemon=true",
        "loglevel=warn",
        "",
        "[unix_http_server]",
        f"file={SOCKET}",
        "chmod=0700",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{SOCKET}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    ]
    for part in parts:
        spec = part.spec
        env = {**(spec.env if spec else {}), **part.env}
        lines += [
            "",
            f"[program:{part.name}]",
            "command=" + " ".join(_shell_word(w) for w in part.command),
            f"directory={ROOT}",
            f"priority={part.priority}",
            "autorestart=true",
            "startsecs=2",
            "startretries=5",
            f"stopsignal={spec.stop_signal if spec else 'TERM'}",
            "stopwaitsecs=20",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={LOGS / (part.name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
        ]
        if spec and spec.user:
            lines.append(f"user={spec.user}")
        if env:
            lines.append("environment=" + ",".join(f"{k}={_quote(v)}" for k, v in env.items()))
    # It holds every service's NATS password: readable by its owner only.
    CONF.touch(mode=0o600)
    CONF.chmod(0o600)
    CONF.write_text("\n".join(lines) + "\n")


def _shell_word(word: str) -> str:
    return word if word and all(c.isalnum() or c in "-_./:=@,+" for c in word) else repr(word)


# --- lifecycle ---------------------------------------------------------------------------


def supervisord_pid() -> int | None:
    try:
        pid = int(PIDFILE.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def clear_stale_files() -> None:
    """A supervisord killed hard leaves its pid file and socket behind."""
    if supervisord_pid() is None:
        PIDFILE.unlink(missing_ok=True)
        SOCKET.unlink(missing_ok=True)


def check_ports_free(parts: list[Part]) -> None:
    busy = [(p.name, p.listen) for p in parts if p.spec and infra.port_open(p.spec.port)]
    busy += [
        (p.name, p.listen)
        for p in parts
        if not p.spec and _port_of(p) and infra.port_open(_port_of(p))
    ]
    if any(p.name == "openbao" for p in parts) and infra.port_open(OPENBAO_PORT + 1):
        busy.append(("openbao's cluster port", f"127.0.0.1:{OPENBAO_PORT + 1}"))
    if busy:
        names = ", ".join(f"{name} ({listen})" for name, listen in busy)
        raise SystemExit(f"ports already in use: {names}. Is a stack running? Try `make down`.")


def _port_of(part: Part) -> int:
    return int(part.listen.rsplit(":", 1)[1]) if part.listen else 0


def start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], list[Part], dict[str, str]]:
    if supervisord_pid():
        raise SystemExit("the stack is already running (make down stops it)")
    clear_stale_files()
    parts, shared = plan_parts(env)
    check_ports_free(parts)
    write_config(parts)
    child_env = {**env, **shared, "PYTHONUNBUFFERED": "1"}
    # A session of its own: Ctrl-C reaches us, and we stop supervisord in order.
    process = subprocess.Popen(
        [infra.venv_bin("supervisord"), "-c", str(CONF)],
        env=child_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=(LOGS / "supervisord.out").open("ab"),
    )
    return process, parts, shared


def wait_ready(parts: list[Part], shared: dict[str, str]) -> None:
    """Wait for the servers, set up those we started (not external ones), wait for the rest."""
    infra_parts = [p for p in parts if p.spec]
    _wait_parts(infra_parts)
    started = {p.name for p in infra_parts}
    started_pg, started_vault = "postgres" in started, "openbao" in started
    if "nats" in started:  # the services wait for their streams; only the provisioner makes them
        infra.provision_streams(shared["NATS_URL"], infra.nats_users(NATS_USERS_FILE))
    bootstrap.run_bootstrap(
        postgres_server=bootstrap.server_url(shared["DATABASE_URL"]) if started_pg else None,
        product_url=shared["PRODUCT_DATABASE_URL"] if started_pg else None,
        vault_addr=None,
    )
    if "sqs" in started:  # moto keeps queues in memory: created at every start
        sqs.create_queues(shared["SQS_ENDPOINT"], sqs.queue_name(shared["KEYBUZZ_ENV"]))
    if started_vault:  # the app credential names this stack's callback (its port may shift)
        app = {**bootstrap.SANDBOX_APP, "redirect_uri": OAUTH_CALLBACK_URL}
        bootstrap.seed_vault(shared["VAULT_ADDR"], infra.DEV_VAULT_ROOT_TOKEN, app)
    _wait_parts([p for p in parts if not p.spec])
    if started_vault and any(p.name == "sandbox" for p in parts):
        asyncio.run(_consent_apps(shared["VAULT_ADDR"]))


async def _consent_apps(vault_addr: str) -> None:
    vault = VaultClient(vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
    try:
        async with httpx.AsyncClient(base_url=SANDBOX_URL, timeout=10) as admin:
            await register_consent_apps(admin, OAUTH_URL, vault)
    finally:
        await vault.aclose()


def _wait_parts(parts: list[Part]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    pending = list(parts)
    checked = 0.0
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if not p.is_ready()]
        # supervisorctl is a process of its own (most of a second on a loaded machine): asked
        # for every part at once and every few checks, it neither slows the start nor delays
        # noticing a part that became ready; a failed part is still seen within seconds.
        if pending and time.monotonic() - checked >= STATE_CHECK_SECONDS:
            checked = time.monotonic()
            states = program_states()
            failed = [p for p in pending if states.get(p.name) in {"FATAL", "EXITED", "BACKOFF"}]
            if failed and all(states[p.name] == "FATAL" for p in failed):
                raise PartFailed(failed[0])
        time.sleep(0.3)
    if pending:
        raise PartFailed(pending[0])


class PartFailed(Exception):
    def __init__(self, part: Part) -> None:
        super().__init__(part.name)
        self.part = part

    def report(self) -> str:
        log_path = LOGS / f"{self.part.name}.log"
        tail = log_path.read_text(errors="replace").splitlines()[-40:] if log_path.exists() else []
        return f"{self.part.name} did not become ready. Last lines of {log_path}:\n" + "\n".join(
            tail
        )


def program_states() -> dict[str, str]:
    """Each program's supervisord state (RUNNING, BACKOFF, FATAL…), by name."""
    result = subprocess.run(
        [infra.venv_bin("supervisorctl"), "-c", str(CONF), "status"],
        capture_output=True,
        text=True,
    )
    lines = (line.split() for line in result.stdout.splitlines())
    return {words[0]: words[1] for words in lines if len(words) > 1}


def stop(timeout: float = 60.0) -> bool:
    """Stop supervisord and everything under it; True when something was running."""
    pid = supervisord_pid()
    if pid is None:
        clear_stale_files()
        return False
    deadline = time.monotonic() + timeout
    try:
        _stop_by_priority(deadline)
    except (OSError, xmlrpc.client.Error) as exc:  # its own shutdown below still stops all
        print(f"stopping the parts by priority failed ({exc}); supervisord stops them")
    os.kill(pid, signal.SIGTERM)
    while time.monotonic() < deadline and supervisord_pid() is not None:
        time.sleep(0.2)
    clear_stale_files()
    return True


# States in which a program still has a process (supervisor.states.RUNNING_STATES, STOPPING).
_ALIVE = {"STARTING", "RUNNING", "BACKOFF", "STOPPING"}


def _stop_by_priority(deadline: float) -> None:
    """Every program of one priority at once, the highest priority first (the services
    before the servers they use). supervisord's own shutdown stops one program at a time,
    each taking a turn of its main loop (up to a second) after the last one ended."""
    transport = SupervisorTransport(None, None, f"unix://{SOCKET}")
    # Any: xmlrpc's answers are typed as any XML-RPC value; these are supervisor's structs.
    supervisor: Any = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
    programs = supervisor.supervisor.getAllConfigInfo()
    for priority in sorted({p["process_prio"] for p in programs}, reverse=True):
        names = [f"{p['group']}:{p['name']}" for p in programs if p["process_prio"] == priority]
        # wait=False: each is signalled now; one not running answers a fault, ignored.
        supervisor.system.multicall(
            [{"methodName": "supervisor.stopProcess", "params": [n, False]} for n in names]
        )
        while time.monotonic() < deadline:
            states = {
                f"{p['group']}:{p['name']}": p["statename"]
                for p in supervisor.supervisor.getAllProcessInfo()
            }
            if not any(states.get(name) in _ALIVE for name in names):
                break
            time.sleep(0.1)


def connectable_shops(sandbox_url: str, oauth_url: str | None = None) -> list[str]:
    """Each marketplace the registry serves, as its connection kind says a seller connects
    it: a credential form with a seeded shop of its double and the fields that connect it
    (development values of the doubles), or consent through oauth's start and the double's
    consent page, as a seeded seller when the double lists them."""
    served = [c for c in registry.connectors() if connects_by(c) is not None]
    found = asyncio.run(_seeded(sandbox_url, [c.marketplace for c in served]))
    width = max((len(c.display_name) for c in served), default=0)
    lines = ["Shops to connect against the doubles (the console's forms, or POST the fields):"]
    lines += [
        _form_line(c, found.get(c.marketplace), width)
        for c in served
        if connects_by(c) == "CREDENTIALS"
    ]
    consent = [c for c in served if connects_by(c) == "OAUTH_REDIRECT"]
    if consent:
        lines.append('Sellers to connect by consent (the console\'s "Connect …" button):')
        lines += [
            _consent_line(c, found.get(c.marketplace), width, oauth_url or OAUTH_URL)
            for c in consent
        ]
    listed_at = sorted({shop.listed_at for shop in found.values()})
    lines += [f"  all seeded shops: curl {sandbox_url}{path}" for path in listed_at]
    lines.append("  more: docs/SANDBOX.md (each double's seeded shops and admin endpoints)")
    return lines


def _form_line(connector: Connector, seeded_shop: seeded.SeededShop | None, width: int) -> str:
    name = connector.display_name.ljust(width)
    if seeded_shop is None:
        return f"  {name}  no seeded shop in the sandbox"
    credentials = seeded_shop.shop.credentials
    fields = "  ".join(f"{f.json_name}={credentials[f.name]}" for f in connector.credential_fields)
    return f"  {name}  {fields}"


def _consent_line(
    connector: Connector, seeded_shop: seeded.SeededShop | None, width: int, oauth_url: str
) -> str:
    start = f"consent at POST {start_url(oauth_url, connector.marketplace)}"
    seller = (
        ""
        if seeded_shop is None
        else f", signing in as {seeded_shop.shop.name} on its consent page"
    )
    return f"  {connector.display_name.ljust(width)}  {start}{seller}"


async def _seeded(sandbox_url: str, marketplaces: list[str]) -> dict[str, seeded.SeededShop]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10) as http:
        return await seeded.seeded_shops(http, marketplaces)


def banner(parts: list[Part], shared: dict[str, str]) -> str:
    width = max(len(p.name) for p in parts)
    shifted = f" (ports shifted by KEYBUZZ_PORT_OFFSET={PORT_OFFSET})" if PORT_OFFSET else ""
    lines = ["", f"KeyBuzz development stack is ready{shifted}:"]
    lines += [f"  {p.name.ljust(width)}  {p.listen}" for p in parts]
    if any(p.name == "sandbox" for p in parts):
        lines.append(
            f"  {'replies'.ljust(width)}  {REPLY_FRONT_URL} (the sandbox's reply front: each"
            " reply to its recipient's relay double; AUTH as"
            f" {infra.reply_front_login(REPLY_FRONT_LOGIN_FILE).username},"
            f" password in {REPLY_FRONT_LOGIN_FILE})"
        )
    if any(p.name == "poller" for p in parts):
        lines.append(
            f"  {'MX'.ljust(width)}  {MX_URL} (in the poller; mail for {shared['INBOUND_DOMAIN']})"
        )
    if any(p.name == "sandbox" for p in parts):
        lines += ["", *connectable_shops(SANDBOX_URL)]
    lines += [
        "",
        "Amazon sandbox (fixed development credentials):",
        "  LWA client id   amzn1.application-oa2-client.keybuzz-sandbox",
        "  LWA secret      keybuzz-sandbox-secret",
        "  application id  amzn1.sp.solution.keybuzz-sandbox",
        "  seeded sellers  A12BCIS2R7HD4D (FR A13V1IB3VIYZZH: 94 orders / 90 days, 6 cancelled)",
        "                  A3DESELLERBENCH (DE A1PA6795UKMFR9: 10,000 orders / 90 days)",
        "  more: docs/SANDBOX.md (admin endpoints: faults, revocation, buyer messages)",
        "",
        "Try it:",
        f"  open {CONSOLE_URL}  (the console: pick a tenant, Connect Amazon or a shop above, orders, tickets)",
        f"  curl http://127.0.0.1:{SERVICES['tenant-sync']}/ready",
        f"  curl -X POST http://127.0.0.1:{SERVICES['tenant-sync']}/api/v1/tenants/sync-all -H 'X-Internal-Key: {shared['INTERNAL_API_KEY']}'",
        f"  open http://127.0.0.1:{SERVICES['oauth']}/schema/swagger  (each service serves its OpenAPI at /schema)",
        f"  logs: {LOGS}/<part>.log",
        "",
    ]
    return "\n".join(lines)
