"""Dovecot (IMAP + LMTP) for the dev stack and the tests: install, generated config, readiness.

Dovecot is not on PyPI: it comes from Debian's packages (``dovecot-imapd``,
``dovecot-lmtpd``), installed here when missing (``make install`` and the test
fixture call :func:`ensure_installed`). It runs privately: our own config,
data and run directory, loopback ports; the system's ``/etc/dovecot`` is never
read. Facts behind the settings: ``docs/POLLER.md`` ("Dovecot").

One mail account (``keybuzz``, the poller's) holds one folder per tenant; the
MX delivers over LMTP to ``keybuzz+<folder>@…`` and Dovecot files the mail
into that folder (``lmtp_save_to_detail_mailbox``), creating it on first use.
"""

from __future__ import annotations

import base64
import hashlib
import imaplib
import os
import pwd
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from keybuzz_devstack import system_packages
from keybuzz_devstack.infra import ServerSpec, _make_traversable
from keybuzz_devstack.system_packages import Requirement, SystemPackagesMissing

PACKAGES = ("dovecot-imapd", "dovecot-lmtpd")
# Where Debian puts the master binary and the protocol programs the packages add.
SBIN = Path("/usr/sbin/dovecot")
PROTOCOL_PROGRAMS = (Path("/usr/lib/dovecot/imap"), Path("/usr/lib/dovecot/lmtp"))
MAIL_USER = "keybuzz"
DEV_IMAP_PASSWORD = "keybuzz-dev-imap"
# Mail may not be owned by uid 0: as root, Dovecot runs the mail user as this account.
ROOT_MAIL_ACCOUNT = "nobody"
INTERNAL_ACCOUNT = "dovecot"  # created by Debian's package; Dovecot's default_internal_user
# Unix sockets live in base_dir; their paths must stay under 108 bytes.
MAX_BASE_DIR = 70


class DovecotMissing(SystemPackagesMissing):
    """Dovecot is absent and we cannot install it ourselves (not root, no apt-get)."""


def binary() -> str | None:
    """The dovecot master binary, if Dovecot with IMAP and LMTP is installed."""
    found = shutil.which("dovecot") or (str(SBIN) if SBIN.exists() else None)
    if found is None or not all(p.exists() for p in PROTOCOL_PROGRAMS):
        return None
    return found


REQUIREMENT = Requirement(
    name="Dovecot (IMAP + LMTP)",
    packages=PACKAGES,
    find=binary,
    purpose="the poller's mail path",
    elsewhere="install Dovecot 2.3 with its IMAP and LMTP parts so that `dovecot` is on "
    "PATH (or in /usr/sbin)",
)
INSTALL_HINT = REQUIREMENT.hint()


def ensure_installed(say: Callable[[str], None] = print) -> str:
    """The dovecot binary; installs Debian's packages first when missing (root + apt only).

    Present → returns at once, so running it at every ``make install`` costs nothing.
    """
    try:
        system_packages.ensure([REQUIREMENT], say)
    except SystemPackagesMissing as missing:
        raise DovecotMissing(str(missing)) from None
    found = binary()
    assert found is not None  # ensure() raises for a required program it could not install
    return found


def password_hash(password: str) -> str:
    """``{SSHA512}``: the password file never holds the password itself."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha512(password.encode() + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode()


def _mail_owner() -> tuple[int, int, str | None]:
    """uid, gid of the mail files, and the account to chown to (None: ourselves)."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid(), None
    entry = pwd.getpwnam(ROOT_MAIL_ACCOUNT)
    return entry.pw_uid, entry.pw_gid, ROOT_MAIL_ACCOUNT


def _run_dir(data_dir: Path, imap_port: int) -> Path:
    own = data_dir / "run"
    return own if len(str(own)) <= MAX_BASE_DIR else Path(f"/tmp/keybuzz-dovecot-{imap_port}")


def write_config(
    data_dir: Path, imap_port: int, lmtp_port: int, password: str, fsync: bool = True
) -> Path:
    """Generate ``dovecot.conf`` and the password file under ``data_dir``; returns the conf path."""
    data_dir = data_dir.resolve()
    uid, gid, account = _mail_owner()
    home = data_dir / "mail" / MAIL_USER
    run_dir = _run_dir(data_dir, imap_port)
    for directory in (home, data_dir / "state", run_dir):
        directory.mkdir(parents=True, exist_ok=True)
    if account:
        _make_traversable(data_dir)
        for path in (data_dir / "mail", home):
            os.chown(path, uid, gid)
    users = data_dir / "users"
    users.write_text(f"{MAIL_USER}:{password_hash(password)}:{uid}:{gid}::{home}::\n")
    users.chmod(0o640)
    if account:  # Dovecot's auth process runs as its internal user (Debian's `dovecot`)
        os.chown(users, 0, pwd.getpwnam(INTERNAL_ACCOUNT).pw_gid)
    conf = data_dir / "dovecot.conf"
    conf.write_text(
        _CONFIG.format(
            instance=f"keybuzz-{imap_port}",
            base_dir=run_dir,
            state_dir=data_dir / "state",
            users=users,
            imap_port=imap_port,
            lmtp_port=lmtp_port,
            fsync="optimized" if fsync else "never",
            first_uid=min(uid, 500),
            unprivileged=_unprivileged_settings(account is None),
            scale=SCALE_SETTINGS,
        )
    )
    return conf


def _unprivileged_settings(needed: bool) -> str:
    """Not root: every Dovecot process runs as us, and nothing can chroot."""
    if not needed:
        return ""
    me = pwd.getpwuid(os.getuid()).pw_name
    return (
        f"default_internal_user = {me}\ndefault_internal_group = {me}\n"
        f"default_login_user = {me}\n"
        "service anvil {\n  chroot =\n}\n"
        "service imap-login {\n  chroot =\n}\n"
    )


# One account holds a folder per tenant, so thousands of folders. Measured (docs/POLLER.md,
# "Dovecot at thousands of folders"): with Dovecot 2.3's mailbox list index every LMTP
# delivery costs time in proportion to the number of folders (45 mails/s at 2,000, 20 at
# 3,000, against ~300 without it at any count), and subscribing each new folder rewrites
# the whole subscriptions file (creation 52/s at 5,000 folders, 148 without). Nothing
# reads subscriptions; SELECT, STATUS and LIST-STATUS are as fast or faster without the
# index. compose's dovecot.conf carries the same lines (tests/test_compose.py).
SCALE_SETTINGS = "mailbox_list_index = no\nlda_mailbox_autosubscribe = no"

# log_path=/dev/stderr: the supervisor and the test fixture collect it in the part's log.
_CONFIG = """\
# Generated by keybuzz_devstack.dovecot; rewritten at every start.
instance_name = {instance}
base_dir = {base_dir}
state_dir = {state_dir}
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = /dev/stderr
mail_location = maildir:~/Maildir
mail_fsync = {fsync}
first_valid_uid = {first_uid}
recipient_delimiter = +
lmtp_save_to_detail_mailbox = yes
lda_mailbox_autocreate = yes
{scale}
passdb {{
  driver = passwd-file
  args = scheme=SSHA512 username_format=%Ln {users}
}}
userdb {{
  driver = passwd-file
  args = username_format=%Ln {users}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
{unprivileged}"""


def dovecot_spec(
    data_dir: Path,
    imap_port: int = 8143,
    lmtp_port: int = 8024,
    password: str = DEV_IMAP_PASSWORD,
    fsync: bool = True,
) -> ServerSpec:
    """Dovecot in the foreground (``-F``) on loopback with a generated config."""
    conf = write_config(data_dir, imap_port, lmtp_port, password, fsync)
    return ServerSpec(
        name="dovecot",
        command=[ensure_installed(), "-F", "-c", str(conf)],
        port=imap_port,
        url=f"imap://127.0.0.1:{imap_port}",
        ready=lambda: imap_ready(imap_port, password),
    )


def imap_ready(port: int, password: str) -> bool:
    """LOGIN alone is not enough: a mail user Dovecot cannot use still logs in (then SELECT fails)."""
    try:
        with imaplib.IMAP4("127.0.0.1", port, timeout=2) as imap:
            imap.login(MAIL_USER, password)
            status, _ = imap.select("INBOX", readonly=True)
            return status == "OK"
    except (OSError, imaplib.IMAP4.error):
        return False
