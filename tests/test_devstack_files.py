"""The files the development stack keeps for itself (fast, no servers): its secrets made once
and read back whole, by whichever of two processes starting at once; and a test session's
scratch folder removed without the session waiting for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
from keybuzz_devstack import infra, testing
from keybuzz_sandbox.config import SmtpLogin
from keybuzz_shared.nats_access import USERS

TWO_AT_ONCE = """
import sys
from pathlib import Path

import msgspec
from keybuzz_devstack import infra

sys.stdout.write(msgspec.json.encode(
    {"nats": infra.nats_users(Path(sys.argv[1]) / "nats-users.json"),
     "front": infra.reply_front_login(Path(sys.argv[1]) / "reply-front-login.json")}
).decode())
"""


def private(path: Path) -> bool:
    return path.stat().st_mode & 0o777 == 0o600


def test_two_processes_starting_at_once_keep_the_same_secrets(tmp_path: Path) -> None:
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_AT_ONCE, str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    seen = [json.loads(start.communicate(timeout=60)[0]) for start in starts]
    assert all(start.returncode == 0 for start in starts)
    nats = json.loads((tmp_path / "nats-users.json").read_text())
    front = json.loads((tmp_path / "reply-front-login.json").read_text())
    assert set(nats) == set(USERS)
    assert all(each == {"nats": nats, "front": front} for each in seen)
    assert private(tmp_path / "nats-users.json")
    assert private(tmp_path / "reply-front-login.json")
    # No temporary file left beside them: only the two files and their locks.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "nats-users.json",
        "reply-front-login.json",
    ]


def test_a_secret_is_made_once_while_another_maker_waits(tmp_path: Path) -> None:
    """Two makers at once, the first slow: the second reads what the first wrote instead
    of writing its own over it (each process would then hold other passwords)."""
    path = tmp_path / "secret.json"
    made: list[str] = []
    kept: list[str] = []

    def make() -> tuple[str, bytes]:
        value = f"made-{len(made)}"
        made.append(value)
        time.sleep(0.3)  # the other maker starts meanwhile
        return value, value.encode()

    def keep() -> None:
        kept.append(infra.kept_private(path, lambda data: data.decode() or None, make))

    makers = [threading.Thread(target=keep) for _ in range(2)]
    for maker in makers:
        maker.start()
    for maker in makers:
        maker.join()
    assert made == ["made-0"] and kept == ["made-0", "made-0"]
    assert path.read_text() == "made-0" and private(path)


def test_an_unusable_file_is_replaced_whole_and_private(tmp_path: Path) -> None:
    front = tmp_path / "reply-front-login.json"
    front.write_text("{half a login")
    front.chmod(0o644)
    login = infra.reply_front_login(front)
    assert msgspec.json.decode(front.read_bytes(), type=SmtpLogin) == login
    assert private(front)
    users = tmp_path / "nats-users.json"
    users.write_text(json.dumps({"someone-else": "x"}))
    passwords = infra.nats_users(users)
    assert set(passwords) == set(USERS) and json.loads(users.read_text()) == passwords
    assert infra.nats_users(users) == passwords  # read back, not made again


def test_a_session_folder_is_removed_after_the_call_returns(tmp_path: Path) -> None:
    """``removed_unwaited``: the folder goes, but the call returns first (its thousands of
    files are a test session's last seconds otherwise); a name the shell could take for an
    option or split is removed as well."""
    folder = tmp_path / "-rf one session's folder"
    for branch in range(10):
        (folder / f"db-{branch}").mkdir(parents=True)
        for leaf in range(300):
            (folder / f"db-{branch}" / f"{leaf}").write_bytes(b"x")
    beside = tmp_path / "kept"
    beside.mkdir()
    testing.removed_unwaited(folder)
    assert folder.exists()  # not waited for: 3,000 files take longer than returning
    # Nor left a child of ours (a zombie until the session ends, its removal then awaited).
    assert all(parent_of(pid) != os.getpid() for pid in removers(folder))
    deadline = time.monotonic() + 60
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not folder.exists() and beside.exists()


def removers(folder: Path) -> list[int]:
    """The processes whose command line names ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(folder).encode() in command:
                found.append(int(entry.name))
    return found


def parent_of(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0
