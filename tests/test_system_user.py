"""The system user PostgreSQL runs as (when we are root) is made once per machine, however
many processes ask at once: on a fresh machine the five test workers all start PostgreSQL
together. Tried with a throwaway name that does not exist yet, removed afterwards; the
real user is never touched."""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncpg
import pytest
from keybuzz_devstack import infra, system_packages, system_user

RACERS = 10
# Each racer imports the devstack, says it is ready, then waits for one file to appear:
# all ask for the user within a millisecond of each other.
RACER = """
import pathlib, pwd, sys, time
from keybuzz_devstack import infra
folder = pathlib.Path(sys.argv[1])
(folder / f"ready-{sys.argv[2]}").touch()
while not (folder / "go").exists():
    time.sleep(0.0005)
name = infra.postgres_user()
entry = pwd.getpwnam(name)
print(name, entry.pw_uid, entry.pw_gid)
"""

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="only root makes system users; elsewhere PostgreSQL runs as us"
)


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _race(folder: Path, name: str) -> list[str]:
    env = {**os.environ, system_user.NAME_VARIABLE: name}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(folder), str(n)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(RACERS)
    ]
    deadline = time.monotonic() + 120
    while len(list(folder.glob("ready-*"))) < RACERS and time.monotonic() < deadline:
        time.sleep(0.01)
    (folder / "go").touch()
    answers = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
        answers.append(out.strip())
    return answers


def _postmaster_uids(data: Path) -> set[int]:
    """The real, effective, saved and filesystem uids of the server's main process."""
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    status = Path(f"/proc/{postmaster}/status").read_text().splitlines()
    [uids] = [line.split()[1:] for line in status if line.startswith("Uid:")]
    return {int(u) for u in uids}


async def _postgres_runs_as(root: Path, uid: int) -> None:
    spec = await asyncio.to_thread(infra.postgres_spec, root / "pg" / "data", infra.free_port())
    server = infra.RunningServer(spec, root / "pg.log")
    await asyncio.to_thread(server.start, 60)
    try:
        conn = await asyncpg.connect(f"{spec.url}/postgres", timeout=10)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
        assert _postmaster_uids(root / "pg" / "data") == {uid}
    finally:
        await asyncio.to_thread(server.stop)


async def test_processes_asking_at_once_share_one_new_user_and_postgres_starts_under_it(
    tmp_path: Path, server_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"kbtest-{secrets.token_hex(4)}"
    assert not _exists(name)
    try:
        answers = await asyncio.to_thread(_race, tmp_path, name)
        assert len(set(answers)) == 1, answers
        said_name, uid, gid = answers[0].split()
        entry = pwd.getpwnam(name)
        assert (said_name, int(uid), int(gid)) == (name, entry.pw_uid, entry.pw_gid)
        assert entry.pw_uid != 0 and entry.pw_gid != 0
        monkeypatch.setenv(system_user.NAME_VARIABLE, name)
        await _postgres_runs_as(server_root, entry.pw_uid)
    finally:
        system_user.remove(name)
    assert not _exists(name)


# ``useradd`` as the system's, with another process (outside our lock: a second project,
# an administrator) making the same user just before ours runs: ours then exits 9.
USERADD_RACED = """#!/bin/sh
{useradd} "$@" >/dev/null 2>&1
exec {useradd} "$@"
"""


def test_a_user_made_by_a_process_outside_the_lock_is_taken_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"kbtest-{secrets.token_hex(4)}"
    real = subprocess.run(["sh", "-c", "command -v useradd"], capture_output=True, text=True)
    wrapper = tmp_path / "bin" / "useradd"
    wrapper.parent.mkdir()
    wrapper.write_text(USERADD_RACED.format(useradd=real.stdout.strip()))
    wrapper.chmod(0o755)
    # The same wrapper run alone shows the race it plays: the second useradd says exit 9.
    probe = f"kbtest-{secrets.token_hex(4)}"
    try:
        raced = subprocess.run([str(wrapper), "--system", probe], capture_output=True)
        assert raced.returncode == system_user.USERADD_EXISTS, raced
    finally:
        system_user.remove(probe)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    assert not _exists(name)
    try:
        entry = system_user.ensure(name)
        assert entry == pwd.getpwnam(name) and entry.pw_uid != 0
    finally:
        system_user.remove(name)
    assert not _exists(name)


# An apt-get that records its runs and whose install makes the package's program appear.
APT_GET = """#!/bin/sh
echo "$1" >> {runs}
[ "$1" = install ] && touch {program}
exit 0
"""


def test_packages_asked_for_at_once_are_installed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five test workers finding Dovecot missing at once: one installs it, the others wait
    and find it there (several apt-get runs at once fail on dpkg's lock)."""
    runs, program = tmp_path / "apt-get-runs", tmp_path / "program"
    apt_get = tmp_path / "bin" / "apt-get"
    apt_get.parent.mkdir()
    apt_get.write_text(APT_GET.format(runs=runs, program=program))
    apt_get.chmod(0o755)
    monkeypatch.setenv("PATH", f"{apt_get.parent}{os.pathsep}{os.environ['PATH']}")
    requirement = system_packages.Requirement(
        name="a program",
        packages=("keybuzz-test-package",),
        find=lambda: str(program) if program.exists() else None,
        purpose="this test",
        elsewhere="nothing",
    )
    start = threading.Barrier(5)

    def worker() -> None:
        start.wait()
        system_packages.ensure([requirement], say=lambda _: None)

    workers = [threading.Thread(target=worker) for _ in range(5)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert program.exists()
    assert runs.read_text().split() == ["update", "install"]
