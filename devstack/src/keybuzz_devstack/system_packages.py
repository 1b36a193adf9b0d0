"""Debian packages the stack and the tests need that PyPI cannot give: Dovecot and Chromium.

``make install`` runs ``python -m keybuzz_devstack install-system-packages``:
whatever is missing is installed with one ``apt-get update`` + ``apt-get
install`` (as root); where that is impossible it says what to install. Present
→ nothing runs, so calling it at every ``make install`` costs nothing.

Dovecot is *required* (the poller's mail path: ``make run`` and the tests need
it); Chromium is *optional* (only ``tests/test_console_browser.py`` drives it,
and skips without it), so a machine without apt still runs the stack.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from keybuzz_devstack.system_user import machine_lock


class SystemPackagesMissing(RuntimeError):
    """A required program is absent and we cannot install it ourselves (not root, no apt-get)."""


@dataclass(frozen=True)
class Requirement:
    """A program from Debian's packages, how to tell it is there, and what it is for."""

    name: str
    packages: tuple[str, ...]
    find: Callable[[], str | None]  # the program's path when installed
    purpose: str
    elsewhere: str  # what to do on a system without apt-get
    required: bool = True

    def hint(self) -> str:
        return (
            f"{self.name} is needed by {self.purpose} and is not installed.\n"
            "On Debian/Ubuntu run, as root:\n"
            "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
            + " ".join(self.packages)
            + f"\nElsewhere {self.elsewhere} and run `make install` again."
        )


def _first_existing(*paths: Path) -> str | None:
    return next((str(p) for p in paths if p.exists()), None)


def chromium_binary() -> str | None:
    """Debian's Chromium (``/usr/bin/chromium``), or a ``chromium`` on PATH."""
    return _first_existing(Path("/usr/bin/chromium")) or shutil.which("chromium")


CHROMIUM = Requirement(
    name="Chromium",
    # No chromium-driver: Playwright drives Chromium over the DevTools protocol.
    packages=("chromium",),
    find=chromium_binary,
    purpose="the console's browser test (tests/test_console_browser.py, skipped without it)",
    elsewhere="install Chromium so that `chromium` is on PATH",
    required=False,
)


def ensure(requirements: Sequence[Requirement], say: Callable[[str], None] = print) -> None:
    """Install what is missing in one apt-get run; raise for a required one we cannot install.

    An optional requirement that cannot be installed is reported with ``say`` and skipped.
    """
    missing = [r for r in requirements if r.find() is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        _give_up(missing, "", say)
        return
    # Test workers (and clones) asking at once: one installs, the others find it done.
    with machine_lock():
        missing = [r for r in missing if r.find() is None]
        if missing:
            _install(missing, say)


def _install(missing: Sequence[Requirement], say: Callable[[str], None]) -> None:
    packages = [p for r in missing for p in r.packages]
    say(f"installing {' '.join(packages)} with apt-get (missing: {_names(missing)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            _give_up(missing, f"{' '.join(command)} failed:\n{result.stderr.strip()}\n\n", say)
            return
    still = [r for r in missing if r.find() is None]
    if still:
        _give_up(still, "", say)


def _give_up(missing: Sequence[Requirement], why: str, say: Callable[[str], None]) -> None:
    required = [r for r in missing if r.required]
    for optional in (r for r in missing if not r.required):
        say(optional.hint())
    if required:
        raise SystemPackagesMissing(why + "\n\n".join(r.hint() for r in required))


def _names(requirements: Sequence[Requirement]) -> str:
    return ", ".join(r.name for r in requirements)
