"""What a checkout installs is what constraints.txt pins: a release since the last
`make lock` cannot reach a fresh clone, and a dependency added without pinning fails here."""

import shutil
import subprocess
import sys
from pathlib import Path

from keybuzz_devstack import pinned

from tests.dockerfile import stages

ROOT = Path(__file__).resolve().parents[1]


def test_every_installed_dependency_is_pinned_at_its_installed_version() -> None:
    installed, pins = pinned.installed_closure(ROOT), pinned.pinned(ROOT)
    drifted = {name: (pins.get(name), version) for name, version in installed.items()}
    drifted = {name: both for name, both in drifted.items() if both[0] != both[1]}
    assert not drifted, (
        f"pinned vs installed (make install, or make lock to move the pins): {drifted}"
    )
    assert not pins.keys() - installed.keys(), "pinned but needed by nothing: make lock"


def test_make_lock_writes_the_pins_of_this_environment(tmp_path: Path) -> None:
    shutil.copy(ROOT / "requirements-dev.txt", tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "keybuzz_devstack", "lock"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(pinned.pinned(ROOT))} packages pinned" in done.stdout
    assert (tmp_path / "constraints.txt").read_text() == (ROOT / "constraints.txt").read_text()


def test_every_install_is_under_the_pins() -> None:
    # What make would run for the venv's install, its variables expanded.
    recipe = subprocess.run(
        ["make", "--dry-run", "--always-make", ".venv/.installed"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in recipe.splitlines() if "pip install" in line]
    for text in stages().values():
        installs += [line for line in text.splitlines() if "pip install" in line]
    assert len(installs) == 4  # the venv's tools and packages; the two images'
    assert all("-c constraints.txt" in line for line in installs), installs
