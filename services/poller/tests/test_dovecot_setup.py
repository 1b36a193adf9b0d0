"""Dovecot's installation step: present → nothing happens (no apt-get on every make install)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from keybuzz_devstack import dovecot


def test_install_step_is_a_no_op_when_dovecot_is_present(tmp_path: Path) -> None:
    assert dovecot.binary() is not None  # the session's Dovecot fixture needs it anyway
    # An apt-get first on PATH that only records that it ran (and fails).
    ran = tmp_path / "apt-get-ran"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {ran}\nexit 1\n')
    (bin_dir / "apt-get").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-m", "keybuzz_devstack", "install-dovecot"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "apt-get" not in result.stdout + result.stderr  # it would announce an install
    assert not ran.exists()  # apt-get was never run


def test_the_generated_password_file_holds_no_password(tmp_path) -> None:
    dovecot.write_config(tmp_path / "d", 18143, 18024, "keybuzz-dev-imap")
    users = (tmp_path / "d" / "users").read_text()
    assert "keybuzz-dev-imap" not in users and "{SSHA512}" in users


def test_dovecot_reads_the_settings_that_keep_deliveries_fast_at_thousands_of_folders(
    tmp_path: Path,
) -> None:
    """Asked of Dovecot itself (``doveconf``), so a misspelt or overridden line fails here.
    With its mailbox list index on, every LMTP delivery slows with the folder count."""
    conf = dovecot.write_config(tmp_path / "d", 18143, 18024, "keybuzz-dev-imap")
    doveconf = shutil.which("doveconf") or "/usr/bin/doveconf"  # Debian's dovecot-core
    result = subprocess.run(
        [doveconf, "-c", str(conf), "-h", "mailbox_list_index", "lda_mailbox_autosubscribe"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.split() == ["no", "no"]
