"""The operators as data: the packaged catalogue, its overrides by MIRAKL_CATALOGUE and
MIRAKL_CATALOGUE_FILE (read at each call; a broken file keeps its last good reading), one
connector per operator memoised by its entry, and each operator's shop API view from
MiraklSettings (its base URL and M11 frequency)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from keybuzz_connector_mirakl import connectors
from keybuzz_connector_mirakl.catalogue import CATALOGUE
from keybuzz_connector_mirakl.connector import MiraklApiSettings, MiraklSettings, connector_of
from keybuzz_double_mirakl import service_env
from keybuzz_double_mirakl.operators import OPERATORS
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.connectors.kit.catalogue import MAX_CATALOGUE_BYTES
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.settings import load_settings

NEW = {
    "code": "METRO",
    "name": "Metro",
    "baseUrl": "https://metro-prod.mirakl.net",
    "responseHours": 24,
    "frequencies": {"M11": 120},
}


def test_the_packaged_catalogue_lists_the_doubles_operators_in_production() -> None:
    listed = {o.code: o for o in CATALOGUE.packaged()}
    # Every operator the product offers is seeded on the double, under its name: in the dev
    # stack each connects (and an operator added to the catalogue is added there too).
    assert {spec.code: spec.name for spec in OPERATORS} == {c: o.name for c, o in listed.items()}
    for code in ("BOULANGER", "LEROY_MERLIN", "DECATHLON", "LA_REDOUTE"):
        assert listed[code].base_url.startswith("https://")
    assert connector_for("LEROY_MERLIN").display_name == "Leroy Merlin"


def test_the_inline_catalogue_replaces_entries_by_code_and_adds_new_ones() -> None:
    moved = {**NEW, "code": "BOULANGER", "name": "Boulanger", "baseUrl": "http://127.0.0.1:1/b"}
    served = CATALOGUE.entries({CATALOGUE.inline: json.dumps([moved, NEW])})
    codes = [o.code for o in served]
    assert codes[: len(CATALOGUE.packaged())] == [
        o.code for o in CATALOGUE.packaged()
    ]  # replaced in place
    assert codes[-1] == "METRO"
    assert next(o for o in served if o.code == "BOULANGER").base_url == "http://127.0.0.1:1/b"


def test_the_doubles_service_env_points_the_seeded_operators_at_it() -> None:
    env = service_env("http://127.0.0.1:8900")
    for spec in OPERATORS:
        found = CATALOGUE.entry(spec.code, env)
        assert found is not None
        assert found.base_url == f"http://127.0.0.1:8900/mirakl/{spec.code}"
    # Every operator of the packaged catalogue is one of the double's.
    assert {o.code for o in CATALOGUE.entries({})} <= {spec.code for spec in OPERATORS}


def test_a_catalogue_file_is_read_at_each_call_and_a_broken_one_keeps_the_last_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "operators.json"
    env = {CATALOGUE.file: str(path)}
    assert CATALOGUE.entry("METRO", env) is None  # missing from the start: the packaged ones
    path.write_text(json.dumps([NEW]))
    assert CATALOGUE.entry("METRO", env) == CATALOGUE.entry("METRO", env) is not None
    for broken in ("[{", json.dumps([{**NEW, "baseUrl": "ftp://metro"}])):
        path.write_text(broken)
        with caplog.at_level(logging.ERROR):
            assert CATALOGUE.entry("METRO", env) is not None
        assert "last good reading (1 operators) kept" in caplog.text
    path.unlink()
    assert CATALOGUE.entry("METRO", env) is not None
    path.write_text("[]")
    assert CATALOGUE.entry("METRO", env) is None  # removed by the file: gone


def test_an_invalid_inline_catalogue_is_logged_and_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    twice = json.dumps([NEW, NEW])
    with caplog.at_level(logging.ERROR):
        assert [o.code for o in CATALOGUE.entries({CATALOGUE.inline: twice})] == [
            o.code for o in CATALOGUE.packaged()
        ]
    assert "METRO listed twice" in caplog.text
    caplog.clear()
    unread = json.dumps([{**NEW, "frequencies": {"M11": 120, "M99": 60}}])  # no such call
    with caplog.at_level(logging.ERROR):
        assert CATALOGUE.entry("METRO", {CATALOGUE.inline: unread}) is None
    assert "M99" in caplog.text


def test_connectors_are_the_same_objects_while_their_entry_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "operators.json"
    monkeypatch.setenv(CATALOGUE.file, str(path))
    path.write_text(json.dumps([NEW]))
    first = {c.marketplace: c for c in connectors()}
    again = {c.marketplace: c for c in connectors()}
    assert first["METRO"] is again["METRO"] and first["BOULANGER"] is again["BOULANGER"]
    path.write_text(json.dumps([{**NEW, "name": "Metro France"}]))
    changed = {c.marketplace: c for c in connectors()}
    assert changed["METRO"] is not first["METRO"]
    assert changed["METRO"].display_name == "Metro France"
    assert changed["BOULANGER"] is first["BOULANGER"]


def test_each_operators_view_has_its_base_url_and_m11_frequency(tmp_path: Path) -> None:
    path = tmp_path / "operators.json"
    path.write_text(json.dumps([NEW]))
    settings = load_settings(
        PollerSettings,
        {
            "MIRAKL_CATALOGUE_FILE": str(path),
            "MIRAKL_POLL_INTERVAL_SECONDS": "600",
            "MIRAKL_POLL_MARGIN_SECONDS": "2",
            **service_env("http://127.0.0.1:8900"),
        },
    )
    metro = settings.of(MiraklSettings).shop_api("METRO")
    assert isinstance(metro, MiraklApiSettings)
    assert (metro.api_url, metro.poll_interval_seconds, metro.operator.code) == (
        NEW["baseUrl"],
        122,  # its M11 frequency, 120 s, and the 2 s margin
        "METRO",
    )
    boulanger = settings.of(MiraklSettings).shop_api("BOULANGER")
    assert boulanger is not None and boulanger.api_url.endswith("/mirakl/BOULANGER")
    assert boulanger.poll_interval_seconds == 62  # the double's M11 frequency and the margin
    assert boulanger.attachment_origins == ("http://127.0.0.1:8900",)
    assert settings.of(MiraklSettings).shop_api("NOT_AN_OPERATOR") is None
    # No margin by default: a shop's next poll counts from its last poll's end.
    unmargined = load_settings(PollerSettings, {"MIRAKL_CATALOGUE_FILE": str(path)})
    default = unmargined.of(MiraklSettings).shop_api("METRO")
    assert default is not None and default.poll_interval_seconds == 120


def test_an_operators_a21_frequency_is_how_long_its_shops_figure_is_kept() -> None:
    """A21 may be called once per its frequency: the operator's in the catalogue, else
    Mirakl's once a day; the poller keeps a shop's figure that long."""
    served = CATALOGUE.entries(
        {CATALOGUE.inline: json.dumps([{**NEW, "frequencies": {"A21": 3_600}}])}
    )
    metro = connector_of(next(o for o in served if o.code == "METRO")).response_figures
    assert metro is not None and metro.cache_seconds == 3_600
    boulanger = connector_for("BOULANGER").response_figures
    assert boulanger is not None and boulanger.cache_seconds == 86_400  # [official]


def test_production_refuses_an_operator_inside_our_network() -> None:
    inside = json.loads(service_env("http://127.0.0.1:8900")[CATALOGUE.inline])
    settings = MiraklSettings(
        keybuzz_env="production",
        # Carrefour left as packaged: its production API.
        mirakl_catalogue=json.dumps([e for e in inside if e["code"] != "CARREFOUR"]),
    )
    with pytest.raises(ValueError, match="BOULANGER.*must be https"):
        settings.shop_api("BOULANGER")
    assert settings.shop_api("CARREFOUR") is not None


# A file an operator edits, each way it can be hostile, and whether only production refuses
# it (the dev stack and the tests point operators at the sandbox on the loopback address).
HOSTILE_FILES = {
    "http, not https": ([{**NEW, "baseUrl": "http://metro-prod.mirakl.net"}], True),
    "the loopback address": ([{**NEW, "baseUrl": "https://127.0.0.1:8443"}], True),
    "localhost": ([{**NEW, "baseUrl": "https://localhost"}], True),
    "link-local (cloud metadata)": ([{**NEW, "baseUrl": "https://169.254.169.254"}], True),
    "a private address": ([{**NEW, "baseUrl": "https://10.0.0.7"}], True),
    # The same addresses in other spellings (docs/SECURITY.md, "Addresses checked as they
    # are called"): short, integer, hex, a final dot, IPv6's forms of IPv4.
    "127.1": ([{**NEW, "baseUrl": "https://127.1"}], True),
    "2130706433 (127.0.0.1)": ([{**NEW, "baseUrl": "https://2130706433"}], True),
    "0x7f000001 (127.0.0.1)": ([{**NEW, "baseUrl": "https://0x7f000001"}], True),
    "10.1": ([{**NEW, "baseUrl": "https://10.1"}], True),
    "2852039166 (metadata)": ([{**NEW, "baseUrl": "https://2852039166/latest"}], True),
    "localhost.": ([{**NEW, "baseUrl": "https://localhost./"}], True),
    "IPv4-mapped metadata": ([{**NEW, "baseUrl": "https://[::ffff:a9fe:a9fe]"}], True),
    "NAT64 of 10.0.0.7": ([{**NEW, "baseUrl": "https://[64:ff9b::a00:7]"}], True),
    "credentials in the URL": ([{**NEW, "baseUrl": "https://u:key@metro.mirakl.net"}], False),
    "a code twice": ([NEW, {**NEW, "name": "Metro 2"}], False),
    "not http(s)": ([{**NEW, "baseUrl": "file:///etc/passwd"}], False),
}


@pytest.mark.parametrize("hostile", sorted(HOSTILE_FILES))
def test_a_hostile_catalogue_file_is_refused_at_load_and_the_last_good_one_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, hostile: str
) -> None:
    entries, production_only = HOSTILE_FILES[hostile]
    path = tmp_path / "operators.json"
    env = {CATALOGUE.file: str(path), "KEYBUZZ_ENV": "production"}
    path.write_text(json.dumps([NEW]))
    good = CATALOGUE.entry("METRO", env)
    assert good is not None and good.base_url == NEW["baseUrl"]
    path.write_text(json.dumps(entries))
    with caplog.at_level(logging.ERROR):
        assert CATALOGUE.entry("METRO", env) == good  # the last good reading, whole
    assert "last good reading (1 operators) kept" in caplog.text
    assert "u:key" not in caplog.text and ":key@" not in caplog.text  # never quoted
    development = {**env, "KEYBUZZ_ENV": "development"}
    read_in_development = CATALOGUE.entry("METRO", development)
    assert (read_in_development is not None and read_in_development != good) == production_only


def test_an_oversized_catalogue_file_is_refused_without_being_read_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "operators.json"
    env = {CATALOGUE.file: str(path)}
    path.write_text(json.dumps([NEW]))
    assert CATALOGUE.entry("METRO", env) is not None
    padding = " " * (MAX_CATALOGUE_BYTES + 1)
    path.write_text(json.dumps([{**NEW, "name": "Metro grand"}]) + padding)
    with caplog.at_level(logging.ERROR):
        assert CATALOGUE.entry("METRO", env).name == "Metro"  # type: ignore[union-attr]
    assert f"larger than {MAX_CATALOGUE_BYTES} bytes" in caplog.text
