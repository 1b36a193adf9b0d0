"""Every list of marketplaces in the pages a newcomer reads names the connector families the
registry serves, and only those (fast, no servers).

A family is an entry point of group ``keybuzz.connectors`` (amazon, backmarket, ebay…),
named in a doc by that name read loosely ("Back Market" reads "backmarket"). Each place
below is one list, read from its section between two phrases of the doc: it names every
family, or exactly those of one grouping of the registry's (their messages over the shop
API, by mail relay; connected by consent, by a form), as the connectors' parts say. So a
folder added under ``connectors/`` fails here at each list to update, a family moved from
one grouping to another at each list it left or joined, and a family no longer served
(its folder or its double still there) at each list still naming it. `make run`'s banner
is not checked here: it is built from the registry (tests/test_devstack_banner.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from keybuzz_shared.connectors.registry import GROUP, load
from keybuzz_shared.connectors.seam import Connector, connects_by, messages_by_api

ROOT = Path(__file__).resolve().parents[1]
DOUBLES_GROUP = "keybuzz.doubles"

EVERY = "every family"
BY_API = "messages over its shop API"
BY_MAIL = "messages by mail relay"
BY_CONSENT = "connected by consent"
BY_FORM = "connected by a form"
# What puts a family in a grouping: one of its connectors being so.
GROUPINGS: dict[str, Callable[[Connector], bool]] = {
    EVERY: lambda connector: True,
    BY_API: messages_by_api,
    BY_MAIL: lambda connector: connector.mail_relay is not None,
    BY_CONSENT: lambda connector: connects_by(connector) == "OAUTH_REDIRECT",
    BY_FORM: lambda connector: connects_by(connector) == "CREDENTIALS",
}


@dataclass(frozen=True)
class Place:
    """A list of marketplaces: in ``doc``'s section ``heading``, from ``start`` up to the
    first ``end`` after it (the section's end when None), whitespace folded."""

    doc: str
    heading: str
    start: str | None
    end: str | None
    grouping: str = EVERY
    in_registry_order: bool = False

    @property
    def name(self) -> str:
        return f"{self.doc}, {self.heading.lstrip('# ')}: {self.start or 'whole'} ({self.grouping})"


README, ARCHITECTURE = "README.md", "docs/ARCHITECTURE.md"
POLLER, SANDBOX = "docs/POLLER.md", "docs/SANDBOX.md"
OPENING = "# KeyBuzz marketplace integrations"
FITS = "## How it fits together"
SANDBOX_SECTION = "### The sandbox: a double of every marketplace"
PLACES = (
    Place(README, OPENING, None, "| service |"),
    Place(README, OPENING, "| **oauth** |", "| **poller** |"),
    Place(README, OPENING, "| **oauth** |", "the credential form", BY_CONSENT),
    Place(README, OPENING, "the credential form its connector declares (", "), checked", BY_FORM),
    Place(README, OPENING, "| **poller** |", "| **orders** |"),
    Place(README, OPENING, "| **poller** |", "reach each tenant", BY_MAIL),
    Place(README, OPENING, "every other marketplace's shops (", ") are polled", BY_API),
    Place(README, OPENING, "| sandbox | 8900 |", None),
    Place(README, FITS, "```", "```"),
    Place(README, FITS, "In development the marketplaces", "```"),
    Place(README, FITS, "The seller connects", "through **oauth**", BY_CONSENT),
    Place(README, FITS, "its connector's form asks for (", "), checked", BY_FORM),
    Place(README, FITS, "and keeps them fresh.", "relay buyer messages", BY_MAIL),
    Place(README, FITS, "folder over IMAP;", "messages are polled", BY_API),
    Place(README, "### What runs", "| sandbox |", "| SQS"),
    Place(README, SANDBOX_SECTION, None, None),
    Place(README, SANDBOX_SECTION, "The same port answers", None),
    Place(README, SANDBOX_SECTION, "for consent (", ")", BY_CONSENT),
    Place(README, "## Layout", "connectors/<name>/", "services/<name>/"),
    Place(ARCHITECTURE, "## What it is", None, "Four services"),
    Place(ARCHITECTURE, "## What it is", "Beside them:", "that our services reach"),
    Place(ARCHITECTURE, "## The connector seam", "Each connector is a folder", "each with its"),
    Place(
        ARCHITECTURE,
        "## The connector seam",
        "connectors in the order it returns them (",
        ");",
        in_registry_order=True,
    ),
    Place(ARCHITECTURE, "## The connector seam", "| part |", "| --- |"),
    Place(POLLER, "# Poller: the mail path", None, "This document covers", BY_MAIL),
    Place(POLLER, "## Marketplace shops", "A tenant's shop on", "is polled over", BY_API),
    Place(POLLER, "### Replies through", "A reply on a ticket", "goes through", BY_API),
    Place(POLLER, "### Replies through", "instead of mail;", "keeps the relay", BY_MAIL),
    Place(SANDBOX, "# Sandbox: a double of every marketplace", "- **Amazon**", "Each is a test"),
)


def folded(text: str) -> str:
    """Lower case, letters and digits only: "Back Market" and "backmarket" read alike."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


@cache
def served() -> dict[str, frozenset[str]]:
    """Each family the registry serves (its entry point's name) → the groupings it is in,
    from its connectors' parts."""
    found: dict[str, frozenset[str]] = {}
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        family = list(load([point]).values())
        found[point.name] = frozenset(
            g for g, holds in GROUPINGS.items() if any(holds(c) for c in family)
        )
    return found


def known_unserved(families: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The names of marketplaces the tree has and the registry does not serve: a folder of
    ``connectors/`` with its distribution, an installed double, not (or no longer) served."""
    folders = {p.parent.name for p in (ROOT / "connectors").glob("*/pyproject.toml")}
    doubles = {p.name for p in entry_points(group=DOUBLES_GROUP)}
    return frozenset((folders | doubles) - set(families))


def section(text: str, heading: str) -> str:
    """From ``heading`` (a line's start) to the next heading of its level or above."""
    found = re.search(rf"^{re.escape(heading)}", text, re.MULTILINE)
    assert found is not None, f"no heading {heading!r}"
    level = len(heading) - len(heading.lstrip("#"))
    rest = text[found.end() :]
    following = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return text[found.start() : found.end() + (following.start() if following else len(rest))]


def text_of(place: Place) -> str:
    """The place's list, whitespace folded; AssertionError: the doc no longer has it where
    the place says (reworded or moved: point the place at the list again)."""
    words = " ".join(section((ROOT / place.doc).read_text(), place.heading).split())
    start = 0 if place.start is None else words.find(place.start)
    assert start >= 0, f"{place.name}: {place.start!r} not found"
    if place.end is None:
        return words[start:]
    end = words.find(place.end, start + len(place.start or ""))
    assert end >= 0, f"{place.name}: {place.end!r} not found after the start"
    return words[start:end]


def problems(
    place: Place, text: str, families: Mapping[str, frozenset[str]], unserved: frozenset[str]
) -> list[str]:
    """What is wrong with ``text`` as ``place``'s list for the registry's ``families``
    (name → groupings) and the names the tree has and the registry does not serve."""
    words = folded(text)
    wanted = [f for f, groupings in families.items() if place.grouping in groupings]
    found = []
    for family in wanted:
        if folded(family) not in words:
            found.append(f"{place.name}: does not name {family}")
    for family in sorted(set(families) - set(wanted)):
        if folded(family) in words:
            found.append(f"{place.name}: names {family}, which is not {place.grouping}")
    for name in sorted(unserved):
        if folded(name) in words:
            found.append(f"{place.name}: names {name}, which the registry does not serve")
    if place.in_registry_order:
        named = [f for f in families if folded(f) in words]
        if sorted(named, key=lambda f: words.index(folded(f))) != named:
            found.append(f"{place.name}: not in the registry's order ({', '.join(named)})")
    return found


def test_there_are_families_in_every_grouping() -> None:
    for grouping in GROUPINGS:
        assert any(grouping in groupings for groupings in served().values()), grouping


@pytest.mark.parametrize("place", PLACES, ids=lambda place: place.name)
def test_each_list_names_the_families_the_registry_serves(place: Place) -> None:
    families = served()
    assert problems(place, text_of(place), families, known_unserved(families)) == []


def _all_problems(families: Mapping[str, frozenset[str]], unserved: frozenset[str]) -> list[str]:
    return [p for place in PLACES for p in problems(place, text_of(place), families, unserved)]


def test_a_family_added_is_missing_from_each_list_of_its_groupings() -> None:
    added = {"allegro": frozenset({EVERY, BY_API, BY_FORM})}
    reported = _all_problems({**served(), **added}, frozenset())
    expected = [p for p in PLACES if p.grouping in added["allegro"]]
    assert reported == [f"{p.name}: does not name allegro" for p in expected]


def test_a_family_no_longer_served_is_found_where_it_is_still_named() -> None:
    families = {f: g for f, g in served().items() if f != "rakuten"}
    reported = _all_problems(families, frozenset({"rakuten"}))
    assert reported, "no list names Rakuten"
    assert all(r.endswith("names rakuten, which the registry does not serve") for r in reported)
    assert {r.split(": names")[0] for r in reported} == {
        p.name for p in PLACES if "rakuten" in folded(text_of(p))
    }


def test_a_family_moved_to_another_grouping_is_found_in_the_lists_of_both() -> None:
    families = {**served(), "ebay": frozenset({EVERY, BY_API, BY_FORM})}  # a form, not consent
    reported = _all_problems(families, frozenset())
    consent = [p.name for p in PLACES if p.grouping == BY_CONSENT]
    forms = [p.name for p in PLACES if p.grouping == BY_FORM]
    assert sorted(reported) == sorted(
        [f"{name}: names ebay, which is not {BY_CONSENT}" for name in consent]
        + [f"{name}: does not name ebay" for name in forms]
    )


def test_a_list_out_of_the_registrys_order_is_found() -> None:
    [place] = [p for p in PLACES if p.in_registry_order]
    swapped = text_of(place).replace("AMAZON", "@").replace("RAKUTEN", "AMAZON")
    assert problems(place, swapped.replace("@", "RAKUTEN"), served(), frozenset()) == [
        f"{place.name}: not in the registry's order ({', '.join(served())})"
    ]
