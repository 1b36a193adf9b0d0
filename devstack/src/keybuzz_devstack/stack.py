"""The whole development stack under supervisord (``make run``, ``make up``, ``make down``).

supervisord (a well-kept supervisor) starts, restarts and stops every part;
this module writes its configuration, bootstraps databases and Vault once the
servers answer, waits until every part is ready, and prints where each listens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from keybuzz_devstack import bootstrap, dovecot, infra

ROOT = Path(os.environ.get("KEYBUZZ_ROOT", Path.cwd()))
DATA = ROOT / ".data"
LOGS = DATA / "logs"
CONF = DATA / "supervisord.conf"
PIDFILE = DATA / "supervisord.pid"
SOCKET = DATA / "supervisor.sock"
READY_TIMEOUT = 180.0

SANDBOX_URL = "http://127.0.0.1:8900"
DEV_DEFAULTS = {
    "JWT_SECRET": "keybuzz-dev-secret-change-me-in-production",
    "INTERNAL_API_KEY": "keybuzz-dev-internal",
    "INBOUND_DOMAIN": "inbound.keybuzz.test",
    "LWA_ENDPOINT": f"{SANDBOX_URL}/auth/o2/token",
    "SPAPI_ENDPOINT": SANDBOX_URL,
    "SELLER_CENTRAL_URL": SANDBOX_URL,
    "KEYBUZZ_ENV": "development",
}
SERVICES = {"oauth": 8001, "poller": 8002, "orders": 8003, "tenant-sync": 8004}
# The poller's MX (SMTP for INBOUND_DOMAIN) runs inside the poller process (docs/POLLER.md).
MX_URL = "smtp://127.0.0.1:2525"
DOVECOT_LMTP_PORT = 8024


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
    parts: list[Part] = []
    if not env.get("NATS_URL"):
        spec = infra.nats_spec(DATA / "nats")
        parts.append(_infra_part(spec, 10))
        shared["NATS_URL"] = spec.url
    if not env.get("DATABASE_URL"):
        spec = infra.postgres_spec(DATA / "postgres")
        parts.append(_infra_part(spec, 10))
        shared["DATABASE_URL"] = f"{spec.url}/keybuzz_backend"
        shared["PRODUCT_DATABASE_URL"] = env.get("PRODUCT_DATABASE_URL") or f"{spec.url}/keybuzz"
    own_vault = not env.get("VAULT_ADDR")
    if own_vault:
        spec = infra.openbao_spec()
        parts.append(_infra_part(spec, 10))
        shared["VAULT_ADDR"] = spec.url
    if not env.get("IMAP_HOST"):  # Dovecot (IMAP + LMTP) for the poller's mail path
        spec = dovecot.dovecot_spec(DATA / "dovecot")
        parts.append(_infra_part(spec, 10))
        shared.update(dovecot_settings(spec))
    parts.append(
        Part(
            name="sandbox",
            command=[sys.executable, "-m", "keybuzz_sandbox"],
            ready_url=f"{SANDBOX_URL}/health",
            priority=20,
            listen=SANDBOX_URL,
        )
    )
    for service, port in SERVICES.items():
        module = "keybuzz_" + service.replace("-", "_")
        own_token = {"VAULT_TOKEN": bootstrap.service_token_id(service)} if own_vault else {}
        parts.append(
            Part(
                name=service,
                command=[sys.executable, "-m", module],
                ready_url=f"http://127.0.0.1:{port}/ready",
                env=own_token,
                priority=30,
                listen=f"http://127.0.0.1:{port}",
            )
        )
    return parts, shared


def dovecot_settings(spec: infra.ServerSpec) -> dict[str, str]:
    """Where the poller reads (IMAP) and its MX delivers (LMTP); the MX listens on MX_PORT."""
    return {
        "IMAP_HOST": "127.0.0.1",
        "IMAP_PORT": str(spec.port),
        "LMTP_HOST": "127.0.0.1",
        "LMTP_PORT": str(DOVECOT_LMTP_PORT),
    }


def _infra_part(spec: infra.ServerSpec, priority: int) -> Part:
    return Part(name=spec.name, command=spec.command, spec=spec, priority=priority, listen=spec.url)


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
    busy = [p for p in parts if p.spec and infra.port_open(p.spec.port)]
    busy += [p for p in parts if not p.spec and _port_of(p) and infra.port_open(_port_of(p))]
    if busy:
        names = ", ".join(f"{p.name} ({p.listen})" for p in busy)
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
    bootstrap.run_bootstrap(
        postgres_server=bootstrap.server_url(shared["DATABASE_URL"]) if started_pg else None,
        product_url=shared["PRODUCT_DATABASE_URL"] if started_pg else None,
        vault_addr=shared["VAULT_ADDR"] if started_vault else None,
    )
    _wait_parts([p for p in parts if not p.spec])


def _wait_parts(parts: list[Part]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    pending = list(parts)
    while pending and time.monotonic() < deadline:
        pending = [p for p in pending if not p.is_ready()]
        failed = [p for p in pending if program_state(p.name) in {"FATAL", "EXITED", "BACKOFF"}]
        if failed and all(program_state(p.name) == "FATAL" for p in failed):
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


def program_state(name: str) -> str:
    result = subprocess.run(
        [infra.venv_bin("supervisorctl"), "-c", str(CONF), "status", name],
        capture_output=True,
        text=True,
    )
    words = result.stdout.split()
    return words[1] if len(words) > 1 else "UNKNOWN"


def stop(timeout: float = 60.0) -> bool:
    """Stop supervisord and everything under it; True when something was running."""
    pid = supervisord_pid()
    if pid is None:
        clear_stale_files()
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and supervisord_pid() is not None:
        time.sleep(0.2)
    clear_stale_files()
    return True


def banner(parts: list[Part], shared: dict[str, str]) -> str:
    width = max(len(p.name) for p in parts)
    lines = ["", "KeyBuzz development stack is ready:"]
    lines += [f"  {p.name.ljust(width)}  {p.listen}" for p in parts]
    if any(p.name == "poller" for p in parts):
        lines.append(
            f"  {'MX'.ljust(width)}  {MX_URL} (in the poller; mail for {shared['INBOUND_DOMAIN']})"
        )
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
        "  curl http://127.0.0.1:8004/ready",
        f"  curl -X POST http://127.0.0.1:8004/api/v1/tenants/sync-all -H 'X-Internal-Key: {shared['INTERNAL_API_KEY']}'",
        "  open http://127.0.0.1:8001/schema/swagger  (each service serves its OpenAPI at /schema)",
        f"  logs: {LOGS}/<part>.log",
        "",
    ]
    return "\n".join(lines)
