"""An XML request declared as a msgspec Struct (connectors/fnac/src/keybuzz_connector_fnac/client.py): its fields written as
attributes, a text, children in their declared order, lists (wrapped or not) and Structs
of their own; what is None or empty left out. No server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from keybuzz_connector_fnac.client import request, xml_instant
from lxml import etree

NS = "urn:test"


class Window(msgspec.Struct, frozen=True, kw_only=True):
    min: str | None = None
    max: str | None = None
    type: str = msgspec.field(name="@type")  # declared last, written as an attribute


class Sorted(msgspec.Struct, frozen=True):
    direction: str = msgspec.field(name="@type")
    by: str = msgspec.field(default="CREATED_AT", name=".")


class Query(msgspec.Struct, frozen=True, kw_only=True):
    size: int = msgspec.field(default=100, name="@results_count")
    page: int = msgspec.field(default=1, name="paging")
    window: Window | None = msgspec.field(default=None, name="date")
    kind: str | None = None
    ids: tuple[str, ...] = msgspec.field(default=(), name="order_id")
    sort: Sorted | None = msgspec.field(default=None, name="sort_by")
    senders: tuple[str, ...] = msgspec.field(default=(), name="from_types/from_type")


def parsed(query: Query) -> etree._Element:
    return etree.fromstring(request(NS, "query", {"token": "t"}, query))


def names(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def test_every_field_is_written_where_its_name_says_in_its_declared_order() -> None:
    paris = timezone(timedelta(hours=2))
    query = Query(
        size=50,
        page=3,
        window=Window(type="CreatedAt", min=xml_instant(datetime(2026, 1, 2, 12, tzinfo=paris))),
        kind="ORDER",
        ids=("A", "B"),
        sort=Sorted("ASC"),
        senders=("CLIENT", "CALLCENTER"),
    )
    root = parsed(query)
    assert root.attrib == {"token": "t", "results_count": "50"}
    assert names(root) == [
        "paging",
        "date",
        "kind",
        "order_id",
        "order_id",
        "sort_by",
        "from_types",
    ]
    date = root[1]
    assert date.attrib == {"type": "CreatedAt"} and names(date) == ["min"]
    assert date[0].text == "2026-01-02T10:00:00+00:00"  # an instant as requests write it
    assert [e.text for e in root[3:5]] == ["A", "B"]
    assert (root[5].get("type"), root[5].text) == ("ASC", "CREATED_AT")
    assert [e.text for e in root[6]] == ["CLIENT", "CALLCENTER"]


def test_what_is_none_or_empty_is_left_out_with_its_wrapper() -> None:
    root = parsed(Query())
    assert names(root) == ["paging"] and root[0].text == "1"
    assert root.attrib == {"token": "t", "results_count": "100"}


def test_a_text_xml_cannot_hold_is_made_so_and_markup_stays_text() -> None:
    root = parsed(Query(kind="a\x07b <c>&"))
    assert root[1].text == "a\ufffdb <c>&"


def test_a_struct_is_its_attributes_and_its_text_or_children() -> None:
    root = parsed(Query(window=Window(type="UpdatedAt"), sort=Sorted("DESC")))
    assert [(c.attrib, c.text, len(c)) for c in root[1:]] == [
        ({"type": "UpdatedAt"}, None, 0),
        ({"type": "DESC"}, "CREATED_AT", 0),
    ]
    with pytest.raises(TypeError, match="holds elements"):
        request(NS, "query", {}, Sorted("ASC"))


def test_an_instant_without_a_zone_is_taken_as_utc() -> None:
    root = parsed(Query(window=Window(type="CreatedAt", max=xml_instant(datetime(2026, 1, 1)))))
    assert root[1][0].text == "2026-01-01T00:00:00+00:00"
    assert datetime(2026, 1, 1, tzinfo=UTC).isoformat() == root[1][0].text
