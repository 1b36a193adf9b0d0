"""An XML API's requests declared (connectors/fnac/src/keybuzz_connector_fnac/client.py)
and its pages' items decoded one by one by the listing (``Node.decode`` in
kit/xml_answers.py: one off its shape said, never the page), and a listing's
step as the seam's page (kit/listing.py: ``PageRead.page``, ``Listing.page``, ``iso_window``,
``logged_each``). No server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from keybuzz_connector_fnac.client import carried, request, xml_instant, xml_text
from keybuzz_connector_fnac.session import Count, Pages, Renumbered, iso_window
from keybuzz_shared.connectors.kit import Listing
from keybuzz_shared.connectors.kit.listing import PageRead, logged_each
from keybuzz_shared.connectors.kit.requester import Garbled
from keybuzz_shared.connectors.kit.xml_answers import Node, parse_guarded
from keybuzz_shared.connectors.seam import read_each, state_of
from lxml import etree

NS = "urn:test"
START = datetime(2026, 11, 1, tzinfo=UTC)


class Off(Exception):
    pass


class Range(msgspec.Struct, frozen=True):
    type: str = msgspec.field(name="@type")
    min: str | None = None
    max: str | None = None


class Asked(msgspec.Struct, frozen=True, kw_only=True):
    paging: int = 1
    skipped: str | None = None
    date: Range | None = None
    absent: tuple[str, ...] = msgspec.field(default=(), name="wrapped/absent")
    empty: str = ""
    note: str | None = None


def test_a_request_is_its_children_in_order_none_left_out() -> None:
    built = request(
        NS,
        "query",
        {"token": "t", "results_count": "2"},
        Asked(date=Range("CreatedAt", "a", "b"), note="x\x07y <b>&"),
    )
    assert built.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = etree.fromstring(built)
    assert root.tag == f"{{{NS}}}query" and root.nsmap == {None: NS}
    assert root.attrib == {"token": "t", "results_count": "2"}
    assert [etree.QName(c).localname for c in root] == ["paging", "date", "empty", "note"]
    date = root[1]
    assert date.get("type") == "CreatedAt" and [c.text for c in date] == ["a", "b"]
    assert root[2].text is None and len(root[2]) == 0
    assert root[3].text == "x\ufffdy <b>&"  # markup stays text; what XML cannot hold, U+FFFD
    assert b"xmlns:" not in built  # one default namespace, no prefix


def test_texts_as_xml_holds_and_carries_them() -> None:
    assert xml_text("a\x00b\ud800c\tdone\n") == "a\ufffdb\ufffdc\tdone\n"
    assert carried("one\x0btwo\x0cthree\x07\x1f.") == "one\ntwo\nthree."
    assert xml_instant(
        datetime(2026, 1, 2, 12, 0, 0, 999, tzinfo=timezone(timedelta(hours=2)))
    ) == ("2026-01-02T10:00:00+00:00")
    assert xml_instant(datetime(2026, 1, 2)) == "2026-01-02T00:00:00+00:00"  # naive: UTC


def answer_root(data: bytes, refused: type[Exception], **how: Any) -> etree._Element:
    return parse_guarded(data, refused, garbled=Garbled, **how)


def test_an_answer_cut_short_is_garbled_any_other_unread_is_refused() -> None:
    whole = f'<answer xmlns="{NS}"><token>t</token></answer>'.encode()
    assert answer_root(whole, Off, max_bytes=1000, ns=NS).tag == f"{{{NS}}}answer"
    assert answer_root(b"<answer/>", Off, max_bytes=1000) is not None  # no namespace asked
    with pytest.raises(Garbled, match="not well-formed"):
        answer_root(whole[:30], Off, max_bytes=1000, ns=NS)
    with pytest.raises(Off, match="is not in urn:test"):
        answer_root(b"<html><body>502</body></html>", Off, max_bytes=1000, ns=NS)
    with pytest.raises(Off, match="carries a DTD"):
        answer_root(b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', Off, max_bytes=1000)
    with pytest.raises(Off, match="larger than 10 bytes"):
        answer_root(whole, Off, max_bytes=10, ns=NS)


class Line(msgspec.Struct, frozen=True, kw_only=True):
    sku: str
    price: Decimal | None = None


class Order(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    note: str = "none"
    quantity: int = 0
    placed: datetime
    shipped: datetime | None = None
    lines: tuple[Line, ...] = msgspec.field(default=(), name="line")


ORDERS = f"""<page xmlns="{NS}">
<order><order_id> 1 </order_id><placed>2026-11-01T09:00:00Z</placed><unknown>x</unknown>
  <shipped>2026-11-2 9:05</shipped>
  <line><sku>A</sku><price>9.90</price></line><line><sku>B</sku><price></price></line></order>
<order><order_id>2</order_id><placed>2026-11-01T09:00:00Z</placed><quantity>two</quantity></order>
<order><placed>2026-11-01T09:00:00Z</placed></order>
<order><order_id>4</order_id><placed>2026-11-01T09:00:00Z</placed><line><price>1</price></line></order>
</page>""".encode()


def decoded(node: Node) -> Order:
    return node.decode(Order)


def test_an_item_is_decoded_into_its_struct_field_by_field() -> None:
    root = Node(parse_guarded(ORDERS, Off, max_bytes=10_000), NS, ValueError)
    orders, unreadable = read_each(root.all("order"), decoded)
    assert orders == (
        Order(
            order_id="1",
            placed=datetime(2026, 11, 1, 9, tzinfo=UTC),
            shipped=datetime(2026, 11, 2, 9, 5, tzinfo=UTC),  # leniently: one digit, no zone
            lines=(Line(sku="A", price=Decimal("9.90")), Line(sku="B")),
        ),
    )
    assert unreadable == (
        "<quantity> is not an integer",
        "<order> lacks <order_id>",
        "<line> lacks <sku>",
    )
    with pytest.raises(Off, match="lacks <placed>"):
        Node(etree.fromstring(f'<o xmlns="{NS}"><order_id>5</order_id></o>'), NS, Off).decode(Order)


class Flagged(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    urgent: bool


def test_a_field_the_connector_reads_itself_is_given() -> None:
    node = Node(
        etree.fromstring(f'<o xmlns="{NS}" urgent="yes"><order_id>5</order_id></o>'), NS, Off
    )
    given = node.decode(Flagged, urgent=node.element.get("urgent") == "yes")
    assert given == Flagged(order_id="5", urgent=True)
    with pytest.raises(TypeError, match="urgent"):
        node.decode(Flagged)


class Referred(msgspec.Struct, frozen=True, kw_only=True):
    state: str = msgspec.field(default="UNREAD", name="@state")
    kind: str = msgspec.field(name="referer@type")
    referer: str
    sender: str | None = msgspec.field(default=None, name="from@type")


def test_an_attribute_is_read_from_the_element_or_its_child() -> None:
    def read(xml: str) -> Referred:
        return Node(etree.fromstring(f'<m xmlns="{NS}" {xml}'), NS, Off).decode(Referred)

    assert read('state="READ"><referer type="ORDER">O1</referer></m>') == Referred(
        state="READ", kind="ORDER", referer="O1"
    )
    assert read('state=""><referer type="OFFER">O2</referer><from type="CLIENT"/></m>') == (
        Referred(kind="OFFER", referer="O2", sender="CLIENT")
    )
    with pytest.raises(Off, match="lacks <referer@type>"):
        read("><referer>O3</referer></m>")


def test_a_window_is_a_query_as_a_request_writes_it() -> None:
    end = START + timedelta(days=1, microseconds=5)
    assert iso_window(START, end) == {"min": xml_instant(START), "max": xml_instant(end)}
    assert iso_window(START, None) == {"min": "2026-11-01T00:00:00+00:00"}


def test_a_step_is_the_seams_page() -> None:
    last = PageRead((1,), ("why",), None).page(START)
    assert (last.next_cursor, last.complete_until, last.unreadable) == (None, START, ("why",))
    state = Pages(START, None, 2)
    following = PageRead((1,), ("why",), state).page(START)
    assert following.complete_until is None and following.unreadable == ("why",)
    assert following.next_cursor is not None
    assert state_of(following.next_cursor, Pages) == state


async def test_a_listing_page_starts_its_window_or_resumes_its_cursor() -> None:
    asked: list[dict[str, str]] = []

    async def fetch(params: dict[str, str], _link: str | None) -> tuple[list[Any], Count]:
        asked.append(params)
        return [int(params["page"])], (params["page"] == "1", 2)

    listing = Listing(Renumbered[Any](1), iso_window, fetch)
    read = lambda raw: (tuple(raw), ())  # noqa: E731
    end = START + timedelta(hours=1)
    first = await listing.page(None, START, end, read)
    assert first.items == (1,) and first.complete_until is None
    assert first.next_cursor is not None
    second = await listing.page(first.next_cursor, START + timedelta(days=9), None, read)
    assert second.items == (2,) and second.next_cursor is None and second.complete_until == end
    window = {"min": xml_instant(START), "max": xml_instant(end)}
    assert [{**a, "page": "1"} for a in asked] == [{**window, "page": "1"}] * 2  # the cursor's


def test_items_left_out_are_logged_with_the_shop(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.kit.xml")

    def read_one(item: Any) -> int:
        if not isinstance(item, int):
            raise ValueError(f"item {item!r}: not a number")
        return item

    with caplog.at_level(logging.WARNING, logger="test.kit.xml"):
        found = logged_each(read_one, log, "Test message", {"shop_id": "S"})([1, "x"])
    assert found == ((1,), ("item 'x': not a number",))
    (line,) = caplog.records
    assert line.getMessage() == "Test message left out: unreadable"
    assert (line.shop_id, line.reason) == ("S", "item 'x': not a number")  # type: ignore[attr-defined]
