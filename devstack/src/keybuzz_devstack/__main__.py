"""``python -m keybuzz_devstack run|up|down|status|install-system-packages|…``."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from keybuzz_devstack import dovecot, infra, pinned, stack, system_packages


def _stop_on_signals() -> None:
    """Ctrl-C, `kill` and a closed terminal all stop the stack the same orderly way.

    SIGINT is reset explicitly: a shell starting us in the background leaves it ignored.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def run() -> int:
    """Foreground: start, print the banner, follow the logs; Ctrl-C stops everything."""
    _stop_on_signals()
    env = dict(os.environ)
    process, parts, shared = stack.start(env)
    try:
        stack.wait_ready(parts, shared)
        print(stack.banner(parts, shared), flush=True)
        follow_logs([p.name for p in parts], process)
    except stack.PartFailed as failure:
        print(failure.report(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        stack.stop()
    return 0


def up() -> int:
    """Background: return once every part is ready, or fail with the log of the one that is not."""
    env = dict(os.environ)
    _, parts, shared = stack.start(env)
    try:
        stack.wait_ready(parts, shared)
    except (stack.PartFailed, KeyboardInterrupt) as failure:
        if isinstance(failure, stack.PartFailed):
            print(failure.report(), file=sys.stderr)
        stack.stop()
        return 1
    print(stack.banner(parts, shared))
    print("`make down` stops it.")
    return 0


def down() -> int:
    print("stopped" if stack.stop() else "nothing was running")
    return 0


def run_bootstrap() -> int:
    """For compose: create databases, product tenants, Vault seeds and the streams on
    external servers (the services only wait for their streams)."""
    from keybuzz_devstack import bootstrap, infra

    env = os.environ
    if env.get("NATS_URL"):  # compose's NATS has no users; a stack's own has (stack.py)
        infra.provision_streams(env["NATS_URL"])
    bootstrap.run_bootstrap(
        postgres_server=bootstrap.server_url(env["DATABASE_URL"]),
        product_url=env["PRODUCT_DATABASE_URL"],
        vault_addr=env["VAULT_ADDR"],
        vault_root_token=env["VAULT_TOKEN"],
    )
    print("bootstrap done")
    return 0


def nats_tool(action: str, subject: str, body: str) -> int:
    """A stand-in for `nats pub` / `nats req` where the NATS CLI is not installed."""
    import asyncio

    import nats

    async def send() -> str:
        nc = await nats.connect(stack.operator_nats_url())
        try:
            if action == "pub":
                ack = await nc.jetstream().publish(subject, body.encode())
                return f"stored in {ack.stream} as message {ack.seq}"
            reply = await nc.request(subject, body.encode(), timeout=30)
            error = (reply.headers or {}).get("Nats-Service-Error")
            return f"error: {error}" if error else reply.data.decode()
        finally:
            await nc.close()

    print(asyncio.run(send()))
    return 0


def nats_credentials(user: str) -> int:
    """``eval "$(python -m keybuzz_devstack nats-credentials)"``, then the `nats` CLI works.

    The variables the NATS CLI reads (NATS_URL, NATS_USER, NATS_PASSWORD) for one of
    the dev stack's users; nothing on NATS is anonymous (docs/OPERATIONS.md).
    """
    passwords = infra.nats_users(stack.NATS_USERS_FILE)
    if user not in passwords:
        print(f"no NATS user {user!r}; known: {', '.join(sorted(passwords))}", file=sys.stderr)
        return 2
    print(f"export NATS_URL=nats://127.0.0.1:{stack.NATS_PORT}")
    print(f"export NATS_USER={user}")
    print(f"export NATS_PASSWORD={passwords[user]}")
    return 0


def status() -> int:
    if not stack.supervisord_pid():
        print("not running")
        return 1
    os.execv(
        stack.infra.venv_bin("supervisorctl"),
        ["supervisorctl", "-c", str(stack.CONF), "status"],
    )


def follow_logs(names: list[str], process: subprocess.Popen[bytes]) -> None:
    """Print every part's new log lines, prefixed with its name, until interrupted."""
    files = {name: stack.LOGS / f"{name}.log" for name in names}
    offsets = {name: _size(path) for name, path in files.items()}
    width = max(len(n) for n in names)
    while process.poll() is None:
        for name, path in files.items():
            size = _size(path)
            if size < offsets[name]:
                offsets[name] = 0  # rotated
            if size > offsets[name]:
                with path.open("rb") as handle:
                    handle.seek(offsets[name])
                    chunk = handle.read(size - offsets[name])
                offsets[name] = size
                for line in chunk.decode(errors="replace").splitlines():
                    print(f"{name.ljust(width)} | {line}", flush=True)
        time.sleep(0.3)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="keybuzz-devstack")
    parser.add_argument(
        "command",
        choices=[
            "run",
            "up",
            "down",
            "status",
            "bootstrap",
            "pub",
            "req",
            "install-system-packages",
            "install-dovecot",
            "nats-credentials",
            "lock",
        ],
    )
    parser.add_argument("subject", nargs="?", help="pub/req: the subject")
    parser.add_argument("body", nargs="?", default="{}", help="pub/req: the JSON body")
    args = parser.parse_args()
    if args.command == "nats-credentials":  # subject: the user (default: operator)
        sys.exit(nats_credentials(args.subject or "operator"))
    if args.command in {"pub", "req"}:
        if not args.subject:
            parser.error(f"{args.command} needs a subject")
        sys.exit(nats_tool(args.command, args.subject, args.body))
    commands = {
        "run": run,
        "up": up,
        "down": down,
        "status": status,
        "bootstrap": run_bootstrap,
        "install-system-packages": install_system_packages,
        "install-dovecot": install_dovecot,
        "lock": lock,
    }
    try:
        sys.exit(commands[args.command]())
    except system_packages.SystemPackagesMissing as missing:  # what to install, no traceback
        print(missing, file=sys.stderr)
        sys.exit(2)


def lock() -> int:
    """``constraints.txt`` written again from what this environment installed (make lock)."""
    versions = pinned.write_constraints(Path.cwd())
    print(f"{Path.cwd() / pinned.CONSTRAINTS}: {len(versions)} packages pinned")
    return 0


def install_system_packages() -> int:
    """``make install``: Debian's Dovecot (required) and Chromium (optional) when missing,
    and, as root, the system user PostgreSQL runs as (README, "What the project creates")."""
    system_packages.ensure([dovecot.REQUIREMENT, system_packages.CHROMIUM])
    infra.postgres_user()
    return 0


def install_dovecot() -> int:
    """Dovecot alone (kept for scripts that call it): nothing when present."""
    dovecot.ensure_installed()
    return 0


if __name__ == "__main__":
    main()
