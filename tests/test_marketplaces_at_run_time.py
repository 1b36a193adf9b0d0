"""Marketplaces that appear and disappear while the services run (docs/ARCHITECTURE.md,
"Adding a marketplace"): a connector family whose values come from data
(``tests/marketplace_family.py``, its list in a JSON file this test edits) is read again by
the registry — when its reading is stale, when a value it does not know is asked, on
``refresh()`` — and each service asks at use: oauth connects a marketplace added after it
started, the poller polls and replies through it, orders backfills it. Removed, its
connections are kept and say so, its shops are not polled nor synced; added back, they
resume."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from keybuzz_connector_fnac.connector import FnacConnector
from keybuzz_devstack.testing import RunningService
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.registry import UnknownMarketplace

from tests import marketplace_family
from tests.marketplace_family import Family, FamilyMember

StartService = Callable[..., Awaitable[RunningService]]


@pytest.fixture
def family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Family]:
    """The test family installed, serving ALPHA (a member present at start-up)."""
    listed = Family(tmp_path / "family.json")
    listed.serve("ALPHA")
    monkeypatch.setenv(marketplace_family.FILE_ENV, str(listed.path))
    with registry.installed(marketplace_family.ENTRY_POINT):
        yield listed


# --- the registry -------------------------------------------------------------------------


def test_a_value_added_to_the_family_is_served_at_the_first_question_for_it(
    family: Family, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "UNKNOWN_REREAD_SECONDS", 0.3)
    assert registry.marketplaces()[-1] == "ALPHA"
    registry.refresh()
    family.serve("ALPHA", "BETA", "GAMMA")
    before = marketplace_family.readings
    with pytest.raises(UnknownMarketplace):
        registry.connector_for("GAMMA")  # asked within the interval of the last reading
    assert marketplace_family.readings == before
    time.sleep(0.3)
    gamma = registry.connector_for("GAMMA")
    assert isinstance(gamma, FamilyMember) and gamma.display_name == "Gamma Market"
    assert marketplace_family.readings == before + 1
    # In the registry's order: the installed entry points by name, the family's last.
    assert registry.marketplaces()[-3:] == ("ALPHA", "BETA", "GAMMA")
    # Unknown values asked in a stream cost one reading an interval, not one each.
    time.sleep(0.3)
    for _ in range(50):
        with pytest.raises(UnknownMarketplace):
            registry.connector_for("EBAY")
    assert marketplace_family.readings == before + 2


def test_a_stale_reading_is_read_again_and_unchanged_entries_keep_their_objects(
    family: Family, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "REREAD_SECONDS", 0.3)
    registry.refresh()
    alpha = registry.connector_for("ALPHA")
    family.serve("BETA", "ALPHA")
    assert "BETA" not in registry.marketplaces()  # the reading is fresh
    time.sleep(0.3)
    assert registry.marketplaces()[-2:] == ("BETA", "ALPHA")
    assert registry.connector_for("ALPHA") is alpha
    family.serve("BETA")
    time.sleep(0.3)
    assert "ALPHA" not in registry.marketplaces() and registry.served("BETA")
    assert not registry.served("ALPHA")


def test_a_family_that_fails_keeps_its_last_good_list_logged_once(
    family: Family, caplog: pytest.LogCaptureFixture
) -> None:
    family.serve("ALPHA", "BETA")
    registry.refresh()
    family.garble()
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        registry.refresh()
        registry.refresh()
    assert registry.served("ALPHA") and registry.served("BETA")
    failed = [r for r in caplog.records if "zz-test-family" in r.getMessage()]
    assert len(failed) == 1 and "last good" in failed[0].getMessage()
    family.serve("ALPHA")
    registry.refresh()
    assert not registry.served("BETA")


def test_a_reading_with_a_conflict_keeps_the_last_good_one(
    family: Family, caplog: pytest.LogCaptureFixture
) -> None:
    fnac = registry.connector_for("FNAC")
    family.serve("ALPHA", "FNAC", "BETA")
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        registry.refresh()
    assert registry.connector_for("FNAC") is fnac and type(fnac) is FnacConnector
    assert not registry.served("BETA")  # the whole reading is refused, not half of it
    assert any("'FNAC' has two connectors" in r.getMessage() for r in caplog.records)
