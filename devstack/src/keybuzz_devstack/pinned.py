"""The versions a checkout installs, pinned in ``constraints.txt``.

The packages declare ranges; what a range admits moves whenever a release comes out, so a
fresh clone could install a version no test had run on (a msgspec release failed four tests
of one). ``make install`` installs under the pins; ``make lock`` moves them to the newest
releases the ranges admit and writes the file again from what it installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

CONSTRAINTS = "constraints.txt"
# Installed before the packages, which are built without isolation (the Makefile).
BUILD_TOOLS = ("setuptools", "uv", "wheel")
_HEADER = (
    "# Every third-party package a checkout installs, at the version the suite ran on.\n"
    "# Written by `make lock` (README, Quick start); `make install` installs under it.\n"
)


def installed_closure(root: Path) -> dict[NormalizedName, str]:
    """Name → installed version of every third-party distribution the project's packages,
    the test tools (``requirements-dev.txt``) and the build tools need, with their own."""
    wanted = [*_project_requirements(), *_dev_requirements(root)]
    wanted += [Requirement(tool) for tool in BUILD_TOOLS]
    versions: dict[NormalizedName, str] = {}
    walked: set[tuple[NormalizedName, frozenset[str]]] = set()
    while wanted:
        requirement = wanted.pop()
        name, extras = canonicalize_name(requirement.name), frozenset(requirement.extras)
        if (name, extras) in walked:
            continue
        walked.add((name, extras))
        distribution = metadata.distribution(name)
        if not _is_ours(name):
            versions[name] = distribution.version
        wanted += _applying(distribution.requires or (), extras)
    return dict(sorted(versions.items()))


def pinned(root: Path) -> dict[NormalizedName, str]:
    """Name → version as ``constraints.txt`` pins it."""
    lines = (root / CONSTRAINTS).read_text().splitlines()
    pins = (Requirement(line) for line in lines if line.strip() and not line.startswith("#"))
    return {canonicalize_name(pin.name): str(pin.specifier)[2:] for pin in pins}


def write_constraints(root: Path) -> dict[NormalizedName, str]:
    """The installed closure written as ``constraints.txt``'s pins, and returned."""
    versions = installed_closure(root)
    pins = "".join(f"{name}=={version}\n" for name, version in versions.items())
    (root / CONSTRAINTS).write_text(_HEADER + pins)
    return versions


def _project_requirements() -> Iterator[Requirement]:
    for distribution in metadata.distributions():
        if _is_ours(canonicalize_name(distribution.metadata["Name"])):
            yield from _applying(distribution.requires or (), frozenset())


def _dev_requirements(root: Path) -> Iterator[Requirement]:
    for line in (root / "requirements-dev.txt").read_text().splitlines():
        if spec := line.split("#", 1)[0].strip():
            yield Requirement(spec)


def _applying(requires: Iterable[str], extras: frozenset[str]) -> Iterator[Requirement]:
    """The requirements that apply here: their markers hold on this interpreter and
    platform, for no extra or one of ``extras``."""
    for spec in requires:
        requirement = Requirement(spec)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": e}) for e in {"", *extras}):
            yield requirement


def _is_ours(name: str) -> bool:
    return name.startswith("keybuzz-")
