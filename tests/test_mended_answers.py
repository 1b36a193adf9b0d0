"""A marketplace's answer whose text holds characters that cannot be read costs the item
holding them, not the page (keybuzz_shared/mended.py, through kit/listing.py and the
kit's XML guard, kit/xml_answers.py): JSON bytes that are not UTF-8 and lone surrogate
escapes, XML characters and references outside XML 1.0's ``Char``, each U+FFFD; an answer
unreadable for any other reason refused as before. No server."""

from __future__ import annotations

import msgspec
import pytest
from keybuzz_connector_amazon.spapi import SearchOrdersPage
from keybuzz_shared.connectors.kit import reader
from keybuzz_shared.connectors.kit.json_answers import read_as
from keybuzz_shared.connectors.kit.xml_answers import Node, parse_guarded
from keybuzz_shared.mended import REPLACED, json_decoded


class Message(msgspec.Struct):
    id: str
    body: str


class Page(msgspec.Struct):
    messages: list[msgspec.Raw]
    total: int


def json_page(*bodies: bytes) -> bytes:
    items = b",".join(b'{"id": "%d", "body": "%s"}' % (n, b) for n, b in enumerate(bodies))
    return b'{"messages": [%s], "total": %d}' % (items, len(bodies))


@pytest.mark.parametrize(
    "bad",
    [b"\xff", b"\xc3", b"\xed\xb3\xbf", b"\\udcff", b"\\ud800\\u0041", b"\\udfff\\ud800"],
    ids=["0xff", "cut-sequence", "encoded-surrogate", "low-escape", "high-escape", "reversed"],
)
def test_a_json_item_holding_unreadable_text_is_read_replaced_the_rest_of_the_page_as_is(
    bad: bytes,
) -> None:
    page = json_decoded(json_page(b"avant", b"ici " + bad + b" fin", b"apr\xc3\xa8s"), Page)
    items, unread = reader(Message, "message")(page.messages)
    assert unread == () and page.total == 3
    assert [m.body for m in items][::2] == ["avant", "après"]
    kept = items[1].body
    assert kept.startswith("ici ") and kept.endswith(" fin") and REPLACED in kept
    kept.encode("utf-8")  # no lone surrogate left: PostgreSQL and every encoder take it


def test_a_pair_of_surrogate_escapes_is_one_character_not_replaced() -> None:
    assert json_decoded(json_page(b"\\ud83d\\ude00 \xff"), Page).total == 1
    assert read_as(Message, b'{"id": "1", "body": "\\ud83d\\ude00"}', "m").body == "\U0001f600"


def test_an_item_kept_raw_holding_bytes_that_are_not_utf_8_is_read_replaced() -> None:
    """A page decoded with its items raw keeps their bytes as they came: the item's own
    decode mends them."""
    assert read_as(Message, b'{"id": "1", "body": "a\xffb"}', "m").body == f"a{REPLACED}b"


def test_numbers_keep_their_text_through_a_mended_answer() -> None:
    content = b'{"n": 123456789012345678901234567890, "x": 0.1000000000000000055, "s": "\xff"}'
    assert msgspec.json.encode(json_decoded(content)) == (
        b'{"n":123456789012345678901234567890,"x":0.1,"s":"\xef\xbf\xbd"}'
    )


@pytest.mark.parametrize(
    "content",
    [
        b'{"messages": [{"id": "1", "body": "a\xffb"',  # cut short
        b'{"messages": \xff[]}',  # outside any text
        b'{"n": NaN, "s": "\xff"}',  # not JSON's
        b'{"s": "\\udcff"',
    ],
)
def test_an_answer_unreadable_for_another_reason_is_refused_as_json_refuses_it(
    content: bytes,
) -> None:
    with pytest.raises(msgspec.DecodeError):
        json_decoded(content, Page)


def test_an_answer_off_its_shape_stays_off_its_shape() -> None:
    with pytest.raises(msgspec.ValidationError):
        json_decoded(b'{"messages": "\xff", "total": 1}', Page)


NS = "urn:test"


class Refused(Exception):
    pass


def xml_page(*texts: bytes, encoding: bytes = b"UTF-8") -> bytes:
    items = b"".join(b'<m id="%d"><t>%s</t></m>' % (n, t) for n, t in enumerate(texts))
    return b'<?xml version="1.0" encoding="%s"?><r xmlns="%s">%s</r>' % (
        encoding,
        NS.encode(),
        items,
    )


def xml_texts(content: bytes, answers_in: str = "UTF-8") -> list[str | None]:
    root = parse_guarded(content, Refused, max_bytes=1 << 20, answers_in=answers_in)
    return [m.text("t", strip=False) for m in Node(root, NS, Refused).all("m")]


FORBIDDEN = [b"&#0;", b"&#x1;", b"&#x1F;", b"&#xFFFE;", b"&#xffff;", b"&#xD800;", b"&#55296;"]
FORBIDDEN += [b"&#x110000;", b"&#99999999;", b"\x00", b"\x01", b"\x1b", b"\xff", b"\xef\xbf\xbe"]


# A reference in CDATA is text, not a character: only raw characters are tried there.
IN_TEXT_AND_CDATA = [(bad, False) for bad in FORBIDDEN] + [
    (bad, True) for bad in FORBIDDEN if not bad.startswith(b"&")
]


@pytest.mark.parametrize(("bad", "cdata"), IN_TEXT_AND_CDATA)
def test_an_xml_item_holding_a_character_xml_forbids_is_read_replaced(
    bad: bytes, cdata: bool
) -> None:
    text = b"ici " + bad + b" fin"
    content = xml_page(b"avant", b"<![CDATA[" + text + b"]]>" if cdata else text, b"apr&#232;s")
    assert xml_texts(content) == ["avant", f"ici {REPLACED} fin", "après"]


def test_references_xml_allows_are_read_as_they_are() -> None:
    assert xml_texts(xml_page(b"a&#9;b&#xA;c&#65;&#x10FFFF;&amp;\xff")) == [
        f"a\tb\ncA\U0010ffff&{REPLACED}"
    ]


def test_an_answer_in_another_encoding_is_mended_in_it() -> None:
    content = xml_page(b"caf\xe9&#0;\x01", encoding=b"ISO-8859-1")
    assert xml_texts(content, "ISO-8859-1") == [f"café{REPLACED}{REPLACED}"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (xml_page(b"a&#0;b")[:-10], "not well-formed"),  # cut short
        (xml_page(b"a\xffb").replace(b"<m ", b"<m\x01 ", 1), "not well-formed"),  # in markup
        (b'<!DOCTYPE r [<!ENTITY e "&#0;">]>' + xml_page(b"&e;")[38:], "the response carries"),
    ],
)
def test_an_answer_unreadable_for_another_reason_is_refused_as_before(
    content: bytes, reason: str
) -> None:
    with pytest.raises(Refused, match=reason):
        xml_texts(content)


def amazon_order(number: int, buyer: bytes) -> msgspec.Raw:
    at = b"2026-11-01T10:00:00Z"
    return msgspec.Raw(
        b'{"orderId": "%d", "createdTime": "%s", "lastUpdatedTime": "%s", "orderItems": [],'
        b' "salesChannel": {"channelName": "Amazon.fr"}, "buyer": {"buyerName": "%s"}}'
        % (number, at, at, buyer)
    )


def test_one_order_holding_bytes_that_are_not_utf_8_costs_nothing_to_the_others() -> None:
    """Amazon's orders, decoded one by one beside the kit: the order is read replaced, the
    next one read, one off its shape set aside by its id, as before."""
    raw = [amazon_order(1, b"A\xffB"), amazon_order(2, b"\\udcffC"), amazon_order(3, b"D")]
    page = SearchOrdersPage(raw + [msgspec.Raw(b'{"orderId": "4"}')], None, None, None)
    orders, bad = page.decode_orders()
    assert [(o.order_id, o.buyer and o.buyer.buyer_name) for o in orders] == [
        ("1", f"A{REPLACED}B"),
        ("2", f"{REPLACED}C"),
        ("3", "D"),
    ]
    assert [b.order_id for b in bad] == ["4"]
