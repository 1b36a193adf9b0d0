"""The system user PostgreSQL runs as when we are root (PostgreSQL refuses to run as root).

It is made once per machine however many processes ask at once (five test workers start
together on a fresh machine): an exclusive lock on one file per machine serialises them,
and every process reads the user back from the system's database after the lock, so all
get the one identity that exists. ``useradd`` alone is not safe here: two at once fail
with "already exists" (exit 9) or end with processes holding different uids.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

DEFAULT_NAME = "keybuzz-pg"
# Another name (a second project on the machine, a test's throwaway identity).
NAME_VARIABLE = "KEYBUZZ_POSTGRES_SYSTEM_USER"
USERADD_EXISTS = 9  # useradd's "username already in use": made by a process outside the lock


def postgres_user_name() -> str:
    return os.environ.get(NAME_VARIABLE) or DEFAULT_NAME


def ensure(name: str) -> pwd.struct_passwd:
    """The system user ``name``, made now if it does not exist (as root, with ``useradd``)."""
    with machine_lock():
        existing = _lookup(name)
        if existing is not None:
            return existing
        made = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode not in (0, USERADD_EXISTS):
            raise RuntimeError(
                f"useradd {name} failed (exit {made.returncode}): {made.stderr.strip()}"
            )
        entry = _lookup(name)
        if entry is None:
            raise RuntimeError(f"useradd {name} returned but the system does not know {name}")
        return entry


def remove(name: str) -> None:
    """``userdel``: the user and its group, when they exist."""
    with machine_lock():
        if _lookup(name) is not None:
            subprocess.run(["userdel", name], capture_output=True, check=True)


def _lookup(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def lock_path() -> Path:
    """One file per machine, whichever clone asks: /run/lock where the system has it."""
    folder = Path("/run/lock")
    if not folder.is_dir():
        folder = Path(tempfile.gettempdir())
    return folder / "keybuzz-system-users.lock"


@contextlib.contextmanager
def machine_lock() -> Iterator[None]:
    """One process at a time changing the machine (a system user made, packages installed),
    across every test worker and clone."""
    path = lock_path()
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
