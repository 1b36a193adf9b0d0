"""The kit's parts of a connector serving many instances of one API, and its response
parts: a catalogue of instances (``Catalogue``: the packaged list, an inline variable and a
file over it, a broken file's last good reading kept, one connector an unchanged entry),
a window as a listing's query (``window_query``), the marketplace's own rule
(``OwnRule``) and the shop's own figure and closing asked on its session (``SessionParts``). No
servers: an entry type of the test's own, Mirakl's packaged list as the packaged one."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from keybuzz_shared.connectors.kit import KitSession
from keybuzz_shared.connectors.kit.catalogue import Catalogue, instance_of
from keybuzz_shared.connectors.kit.declaration import OwnRule, SessionParts
from keybuzz_shared.connectors.kit.listing import window_query
from keybuzz_shared.connectors.seam import ResponseFigure, ResponseRule, ThreadKey


class Instance(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    code: str
    base_url: str
    name: str = ""


def catalogue() -> Catalogue[Instance]:
    # Mirakl's packaged list read as instances of the test's own (its other keys unread).
    return Catalogue(
        Instance,
        "keybuzz_connector_mirakl",
        "catalogue.json",
        inline="TEST_CATALOGUE",
        file="TEST_CATALOGUE_FILE",
        label="Test",
        noun="instances",
    )


def test_a_catalogue_is_the_packaged_list_with_the_inline_one_and_the_file_over_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    instances = catalogue()
    packaged = [i.code for i in instances.packaged()]
    path = tmp_path / "instances.json"
    moved = {"code": packaged[0], "baseUrl": "http://127.0.0.1:1/x"}
    path.write_text(json.dumps([{"code": "NEW", "baseUrl": "https://new.example"}]))
    env = {"TEST_CATALOGUE": json.dumps([moved]), "TEST_CATALOGUE_FILE": str(path)}
    served = instances.entries(env)
    assert [i.code for i in served] == [*packaged, "NEW"]  # replaced in place, one added
    assert served[0].base_url == moved["baseUrl"]
    # A broken file keeps its last good reading, logged once; production refuses the
    # loopback address of the inline list, which is then left out.
    path.write_text("[{")
    with caplog.at_level(logging.ERROR):
        assert instances.entry("NEW", env) == instances.entry("NEW", env) is not None
    assert caplog.text.count("its last good reading (1 instances) kept") == 1
    production = instances.entries({**env, "KEYBUZZ_ENV": "production"})
    assert production[0] == instances.packaged()[0]
    assert f"Test catalogue ignored: TEST_CATALOGUE: {packaged[0]}: baseUrl" in caplog.text


@pytest.mark.parametrize(
    ("address", "refusal"),
    [("https://u:secret@x.example", "holds credentials"), ("file:///x", "not an http")],
)
def test_an_entry_whose_address_is_not_one_is_refused_without_quoting_credentials(
    address: str, refusal: str
) -> None:
    entries = json.dumps([{"code": "X", "baseUrl": address}])
    with pytest.raises(ValueError, match=refusal) as refused:
        catalogue().parse(entries, "TEST_CATALOGUE")
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize(
    "spelled",
    [
        "https://marketplace-decathlon-eu.mirakl.net",
        "https://MARKETPLACE-Decathlon-EU.Mirakl.NET",  # case
        "HTTPS://marketplace-decathlon-eu.mirakl.net/",  # the scheme's case, a slash
        "https://marketplace-decathlon-eu.mirakl.net.",  # the root's trailing dot
        "https://marketplace-decathlon-eu.mirakl.net:443/",  # the default port
        "HTTPS://marketplace-decathlon-eu.mirakl.net:443",  # in any case of its scheme
        "http://marketplace-decathlon-eu.mirakl.net:80",  # the scheme's own default port
        "https://marketplace-decathlon-eu.mirakl.net/fr/seller",  # a path
        "https://marketplace-decathlon-eu.mirakl.net?x=1#top",
        "https://marketplace-decathlon-eu.mirakl.net.:443/api/../v2",
    ],
)
def test_an_instance_is_its_host_whatever_the_entry_spells_its_address(spelled: str) -> None:
    """Two entries of one instance (an operator renamed or listed twice) name one instance,
    and so one shop of one id (``InstanceProbeCheck``)."""
    assert instance_of(spelled) == "marketplace-decathlon-eu.mirakl.net"


def test_an_instance_name_is_in_idna_form_and_keeps_a_port_of_its_own() -> None:
    for spelled in (
        "https://bücher.example",
        "https://BÜCHER.example.",
        "https://xn--bcher-kva.example",
    ):
        assert instance_of(spelled) == "xn--bcher-kva.example"
    assert instance_of("https://api.example:8443/x") == "api.example:8443"
    assert instance_of("https://api.example:80") == "api.example:80"  # http's, not https'
    assert instance_of("http://127.0.0.1:8900/mirakl/DECATHLON") == "127.0.0.1:8900"
    assert instance_of("https://[::1]:8443/") == "[::1]:8443"
    assert instance_of("https://api.example") != instance_of("https://api.example.org")
    for broken in ("https://", "no address"):
        with pytest.raises(ValueError, match="host"):
            instance_of(broken)


def test_each_makes_one_object_an_entry_the_same_while_it_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instances, path = catalogue(), tmp_path / "instances.json"
    monkeypatch.setenv("TEST_CATALOGUE_FILE", str(path))
    path.write_text(json.dumps([{"code": "NEW", "baseUrl": "https://new.example"}]))
    made = lambda instance: object()  # noqa: E731  (an object compares by identity)
    first = instances.each(made)
    assert len(first) == len(instances.packaged()) + 1
    assert instances.each(made) == first
    path.write_text(json.dumps([{"code": "NEW", "baseUrl": "https://moved.example"}]))
    changed = instances.each(made)
    assert changed[:-1] == first[:-1] and changed[-1] is not first[-1]


def test_a_window_is_its_start_and_end_as_the_marketplace_writes_them() -> None:
    low, high = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    query = window_query("from", "to", lambda t: t.strftime("%d"), sort="asc")
    assert query(low, high) == {"from": "01", "to": "02", "sort": "asc"}
    assert query(low, None) == {"from": "01", "sort": "asc"}
    assert window_query("since", None, lambda t: "x")(low, high) == {"since": "x"}


async def test_the_shops_own_figure_and_closing_are_asked_on_its_session() -> None:
    asked: list[object] = []
    until = datetime(2026, 11, 2, tzinfo=UTC)
    figure = ResponseFigure(name="f", average_response_seconds=60.0, since=None, until=until)

    async def of(since: datetime, end: datetime) -> ResponseFigure | None:
        asked.append((since, end))
        return figure

    async def verify() -> None:
        return None

    async def close(thread: ThreadKey) -> None:
        asked.append(thread)

    parts = (None, None, None)  # the figure and closing ask none of them
    session = KitSession(*parts, verify=verify, figure=of, close=close)  # type: ignore[arg-type]
    asking = SessionParts("Test", 86_400.0)
    since, thread = until - timedelta(days=7), ThreadKey(kind="DISCUSSION", id="t-1")
    assert await asking.response_delay(session, since=since, until=until) is figure
    await asking.close_thread(session, thread)
    assert asked == [(since, until), thread]
    without = KitSession(*parts, verify=verify)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a Test shop's session"):
        await asking.response_delay(without, since=since, until=until)
    with pytest.raises(TypeError, match="not a Test shop's session"):
        await asking.close_thread(without, thread)


def test_an_own_rule_says_where_no_response_needed_is_marked() -> None:
    rule = ResponseRule(window=timedelta(hours=24), marketplace_clock=True)
    window = OwnRule(rule, "marked at the marketplace only")
    assert window.rule is rule
    mark = window.mark("O-1", "FR")
    assert (mark.synced, mark.note, mark.url) == (False, "marked at the marketplace only", None)
