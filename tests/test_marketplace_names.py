"""Marketplaces are named only in their connector packages and the registry (fast, no
servers). Services choose behaviour by a row's or an event's ``marketplace`` through
``keybuzz_shared.connectors.registry``: the next marketplace is an added package, not
edits across the services. Each area is its own case, so a failure says where to look."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Every connector: a folder of its own at the top of the repo (its own distribution).
CONNECTOR_FOLDERS = ROOT / "connectors"
SHARED_CONNECTORS = ROOT / "shared/src/keybuzz_shared/connectors"
# The wire names that predate connectors (``UNLABELLED_EVENT_MARKETPLACE``): the one file of
# the shared library that names a marketplace; the registry finds the rest.
REGISTRY = (SHARED_CONNECTORS / "names.py",)
# The firm behind a marketplace's API, where it is not the marketplace's own name (Cdiscount's
# seller API is Octopia's): the registry knows marketplaces, not their vendors.
API_VENDORS = ("octopia",)
# A display name this short is an ordinary word too ("But"): its marketplace value
# (``BUT``), matched as written, stands for it.
SHORTEST_NAME_ANYWHERE = 4


def marketplace_names() -> tuple[set[str], set[str]]:
    """Every name a marketplace goes by, from the registry: each family's entry-point name,
    each served connector's display name (matched in any case) and marketplace value
    (matched as written)."""
    from importlib.metadata import entry_points

    from keybuzz_shared.connectors.registry import GROUP, connectors

    anycase = {point.name for point in entry_points(group=GROUP)} | set(API_VENDORS)
    exact: set[str] = set()
    for connector in connectors():
        letters = re.sub(r"[^a-z]", "", connector.display_name.lower())
        (anycase if len(letters) >= SHORTEST_NAME_ANYWHERE else exact).add(connector.display_name)
        exact.add(connector.marketplace)
    return anycase, exact


def _unaccented(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _spelled_any_way(name: str) -> str:
    """``Back Market``, ``back_market``, ``backmarket``, ``E.Leclerc``; accents are left out
    of both the names and the lines searched (``Showroomprivé``, ``showroomprive``)."""
    words = re.findall(r"[A-Za-z0-9]+", _unaccented(name))
    return r"[\s_\-.]?".join(re.escape(word) for word in words)


def name_pattern() -> re.Pattern[str]:
    anycase, exact = marketplace_names()
    loose = "|".join(sorted({_spelled_any_way(n) for n in anycase}, key=len, reverse=True))
    strict = "|".join(sorted({_spelled_any_way(n) for n in exact}, key=len, reverse=True))
    return re.compile(rf"(?i:{loose})|\b(?:{strict})\b")


MARKETPLACE_NAME = name_pattern()


def names_a_marketplace(line: str) -> bool:
    return MARKETPLACE_NAME.search(_unaccented(line)) is not None


TEXT_SUFFIXES = {".py", ".sql", ".html", ".js", ".css", ".json", ".txt", ".md", ".toml"}
AREAS = {
    "shared": ROOT / "shared/src",
    "oauth": ROOT / "services/oauth/src",
    "poller": ROOT / "services/poller/src",
    "orders": ROOT / "services/orders/src",
    "tenant-sync": ROOT / "services/tenant-sync/src",
}


def connector_packages() -> list[Path]:
    return [p for p in CONNECTOR_FOLDERS.iterdir() if (p / "pyproject.toml").exists()]


def may_name_marketplaces(path: Path) -> bool:
    """A connector folder's file, the wire names, or an applied migration: migrations are
    numbered history, never edited; a later one renames what an earlier one named."""
    if path in REGISTRY or "migrations" in path.parts:
        return True
    return any(path.is_relative_to(package) for package in connector_packages())


def built(path: Path) -> bool:
    return any(part.endswith(".egg-info") or part == "__pycache__" for part in path.parts)


def places_naming_a_marketplace(root: Path, shown_from: Path = ROOT) -> list[str]:
    places = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in TEXT_SUFFIXES or may_name_marketplaces(path) or built(path):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if names_a_marketplace(line):
                places.append(f"{path.relative_to(shown_from)}:{number}: {line.strip()}")
    return places


@pytest.mark.parametrize("area", sorted(AREAS))
def test_only_connector_packages_and_the_registry_name_a_marketplace(area: str) -> None:
    assert places_naming_a_marketplace(AREAS[area]) == []


# The sandbox's own package: the machinery every double shares, serving each by what it
# declares (its entry point's ``Double``); what is one marketplace's is its double's folder.
SANDBOX = ROOT / "sandbox/src"


def test_the_sandbox_serves_doubles_by_their_declarations_only() -> None:
    assert places_naming_a_marketplace(SANDBOX) == []


def test_the_sandbox_reads_no_double_s_settings() -> None:
    """Each double's settings are its own (its ``env.py``, read by ``config.double_settings``
    under its ``Double``'s prefix): none is read or named by the sandbox's own modules, and
    no two doubles read one variable."""
    from keybuzz_sandbox.config import settings_variables
    from keybuzz_sandbox.doubles import doubles

    read = [
        variable
        for double in doubles().values()
        if double.settings is not None
        for variable in settings_variables(double.settings, double.variables_prefix)
    ]
    assert len(read) == len(set(read)), "two doubles read one variable"
    own = {
        f"{path.relative_to(ROOT)}:{number}: {variable}"
        for path in sorted(SANDBOX.rglob("*.py"))
        if not built(path)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for variable in re.findall(r"SANDBOX_[A-Z0-9_]+", line)
        if variable in read
    }
    assert own == set()


def test_each_connector_package_serves_a_registered_marketplace() -> None:
    from importlib.metadata import entry_points

    from keybuzz_shared.connectors.registry import GROUP, load, marketplaces

    registered = set(marketplaces())
    served = {
        point.module.split(".")[0]
        for point in entry_points(group=GROUP)
        if set(load([point])) & registered
    }
    assert served == {f"keybuzz_connector_{p.name}" for p in connector_packages()}


def test_the_check_finds_a_name_where_it_must_not_be(tmp_path: Path) -> None:
    service = tmp_path / "keybuzz_x"
    service.mkdir()
    (service / "domain.py").write_text('ORIGIN = "fnac"\n')
    (service / "page.html").write_text("<p>Connect Amazon</p>\n")
    found = places_naming_a_marketplace(tmp_path, shown_from=tmp_path)
    assert [place.split(": ")[0] for place in found] == [
        "keybuzz_x/domain.py:1",
        "keybuzz_x/page.html:1",
    ]


# A marketplace's own words for its rules: its error codes, the subject of its claim notice.
MARKETPLACE_RULES = re.compile(r"\bERR_|réclamation|opened_by\W+==", re.IGNORECASE)


@pytest.mark.parametrize("area", sorted(a for a in AREAS if a != "shared"))
def test_no_marketplace_rule_is_written_in_a_service(area: str) -> None:
    """Fnac's ``ERR_`` codes and claim notice are its connector's (``refusal_codes``,
    ``claim_subject``, ``claim_opener``): the services ask it."""
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(AREAS[area].rglob("*.py"))
        if not built(path)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if MARKETPLACE_RULES.search(line)
    ]
    assert found == []


def test_every_served_marketplace_is_caught_by_its_value_and_its_name() -> None:
    from keybuzz_shared.connectors.registry import connectors

    for connector in connectors():
        assert names_a_marketplace(f'WHERE marketplace = "{connector.marketplace}"')
        assert names_a_marketplace(f"<p>Connect {connector.display_name}</p>")
