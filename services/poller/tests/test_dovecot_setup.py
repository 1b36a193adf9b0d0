"""Dovecot's installation step: present → nothing happens (no apt-get on every make install)."""

from __future__ import annotations

import subprocess
import sys
import time

from keybuzz_devstack import dovecot


def test_install_step_is_a_quick_no_op_when_dovecot_is_present() -> None:
    assert dovecot.binary() is not None  # the session's Dovecot fixture needs it anyway
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "keybuzz_devstack", "install-dovecot"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "apt-get" not in result.stdout + result.stderr  # it would announce an install
    assert time.monotonic() - started < 10  # apt-get update alone takes longer


def test_the_generated_password_file_holds_no_password(tmp_path) -> None:
    dovecot.write_config(tmp_path / "d", 18143, 18024, "keybuzz-dev-imap")
    users = (tmp_path / "d" / "users").read_text()
    assert "keybuzz-dev-imap" not in users and "{SSHA512}" in users
