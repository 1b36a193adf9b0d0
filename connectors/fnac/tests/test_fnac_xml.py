"""Fnac's XML codec (keybuzz_connector_fnac.client): the responses recorded from Fnac's
test platform read into models, every request we build valid against Fnac's XSDs and shaped
like the recorded ones, and hostile documents refused without being expanded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fnac_connector_helpers import read_order
from keybuzz_connector_fnac import client as xml
from keybuzz_connector_fnac.client import FnacCredentials, request
from keybuzz_connector_fnac.models import (
    AuthToken,
    ByCreation,
    DateRange,
    FnacProtocolError,
    IncidentsQuery,
    Listed,
    MessagesQuery,
    MessagesUpdate,
    MessageUpdate,
    MessageUpdateResult,
    OrdersQuery,
)
from keybuzz_shared.connectors.kit import xml_answers
from keybuzz_shared.connectors.seam import read_each
from lxml import etree

CAPTURED = Path(__file__).parent / "fnac_captured"
XSD = Path(xml.__file__).parent / "xsd"
PARTNER = "0B6E6A7C-2E4B-4C8F-9D3A-5F1E2D3C4B5A"
SHOP = "8B6C803C-F166-4F7D-B9FB-869156BBA9B1"
TOKEN = "61DF8A84-4465-7D36-20A4-00F941207026"
HEADER = {"partner_id": PARTNER, "shop_id": SHOP, "token": TOKEN}
ORDER_ID = "57BEAFDA828A8"  # Fnac order ids are 13 characters
PARIS = timezone(timedelta(hours=2))

SCHEMAS = {
    "auth": "AuthenticationService.xsd",
    "messages_query": "MessagesQueryService.xsd",
    "messages_update": "MessagesUpdateService.xsd",
    "orders_query": "OrdersQueryService.xsd",
    "incidents_query": "IncidentsQueryService.xsd",
}


def captured(name: str) -> bytes:
    return (CAPTURED / name).read_bytes()


READ = {"message": xml.read_message, "order": read_order, "incident": xml.read_incident}


def listed(body: bytes, item: str) -> tuple[Listed, tuple[Any, ...], tuple[str, ...]]:
    """A page as its listing reads it: its paging, each ``item`` read once, why others were
    left out."""
    page = xml.read_page(xml.parse(body), item)
    return (page, *read_each(page.items, READ[item]))


def assert_valid(request: bytes, service: str) -> None:
    """Against the XSD Fnac ships for the service (trusted local files: includes allowed)."""
    schema = etree.XMLSchema(etree.parse(str(XSD / SCHEMAS[service])))
    document = etree.fromstring(request)
    assert etree.QName(document).localname == service
    assert schema.validate(document), schema.error_log.filter_from_errors()


# --- responses ------------------------------------------------------------------------------


def test_auth_response_gives_the_token_and_its_validity() -> None:
    root = xml.parse(captured("auth_response.xml"))
    assert xml.ENVELOPE.status(root) == ("OK", ())
    token = xml.ENVELOPE.node(root).decode(AuthToken)
    assert token.token == TOKEN
    assert token.validity == datetime(2016, 9, 8, 22, 0, tzinfo=UTC)
    assert TOKEN not in repr(token)


def test_messages_response_as_fnac_sends_it_with_paging_and_cdata() -> None:
    page, items, unreadable = listed(captured("query_messages_response.xml"), "message")
    assert (page.paging.page, page.paging.total_paging, page.paging.nb_total_result) == (1, 1, 1)
    assert not page.paging.has_next and unreadable == ()
    (message,) = items
    assert message.message_id == "6F9EF013-6387-F433-C3F5-4AAEF32AA317"
    assert (message.thread.kind, message.thread.id) == ("ORDER", "57BEAFDA828A8")
    assert (message.sender_type, message.sender_name) == ("BUYER", "testfnac")
    assert message.subject == "Nouvelle réclamation"
    assert message.body.startswith("Une réclamation a été ouverte")
    assert message.body.endswith("Incident test message")
    assert "\n" in message.body  # the body keeps its lines
    assert message.created_at == datetime(2016, 8, 29, 17, 53, 51, tzinfo=PARIS)
    assert not message.unread


def test_messages_with_one_digit_hours_and_no_paging_are_one_page() -> None:
    page, items, _ = listed(captured("messages_sample.xml"), "message")
    assert (page.paging.page, page.paging.total_paging) == (1, 1)
    assert [m.message_id[:8] for m in items] == ["DZD12C88", "ACCS9888", "310983ZE"]
    first = items[0]
    assert first.subject == "Délai plus long qu'annoncé"  # character references decoded
    assert first.created_at == datetime(2016, 10, 28, 8, 50, 4, tzinfo=UTC)  # "T9:50:04+01:00"


def test_orders_response_reads_orders_lines_states_and_empty_dates() -> None:
    page, items, unreadable = listed(captured("query_orders_response.xml"), "order")
    assert page.paging.nb_total_result == 7 and len(items) == 7 and unreadable == ()
    order = items[0]
    assert (order.order_id, order.state) == ("57BEAFDA828A8", "Shipped")
    assert order.shop_id == SHOP
    assert [(d.order_detail_id, d.state) for d in order.details] == [
        ("2", "Refused"),
        ("1", "NotReceived"),
    ]
    refused = order.details[0]
    assert refused.quantity == 13 and refused.price == Decimal("20")
    assert refused.offer_seller_id == "B067-F0D-75E"
    assert refused.received_at is None  # <received_at></received_at>
    assert refused.tracking_number is None  # empty CDATA
    assert refused.refused_at == datetime(2016, 8, 25, 16, 59, 31, tzinfo=PARIS)
    # Fnac gives an order no updated_at: its latest date stands for it (debited_at here).
    assert order.last_change == datetime(2016, 8, 29, 11, 41, 12, tzinfo=PARIS)


def test_orders_created_between_dates_response() -> None:
    body = captured("query_orders_created_between_dates_response.xml")
    _, items, unreadable = listed(body, "order")
    assert items and unreadable == ()
    assert all(o.created_at.tzinfo is UTC for o in items)


def test_incidents_response_reads_the_header_and_the_lines_types() -> None:
    _, (incident,), _ = listed(captured("query_incidents_response.xml"), "incident")
    assert incident.incident_id == "7525927C-6FDC-CD2C-2DBA-6E669C5045AF"
    assert (incident.order_id, incident.status, incident.opened_by) == (
        "57BEAFDA828A8",
        "OPENED",
        "client",
    )
    assert incident.waiting_for_seller is False
    assert incident.types == ("8",) and incident.ticket_subject is None  # each type once


def test_messages_update_response_gives_one_result_per_message() -> None:
    root = xml.parse(captured("update_messages_response.xml"))
    xml.ENVELOPE.expect_root(root, "messages_update")
    (result,) = (m.decode(MessageUpdateResult) for m in xml.ENVELOPE.node(root).all("message"))
    assert result.message_id == "6F9EF013-6387-F433-C3F5-4AAEF32AA317" and result.ok


def test_an_error_response_gives_its_status_and_codes() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>'
        b'<messages_update_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="ERROR">'
        b'<error severity="ERROR" code="ERR_105">Limit of requested elements reached</error>'
        b"</messages_update_response>"
    )
    status, errors = xml.ENVELOPE.status(xml.parse(body))
    assert status == "ERROR"
    assert [(e.code, e.severity, e.text) for e in errors] == [
        ("ERR_105", "ERROR", "Limit of requested elements reached")
    ]


def test_one_unreadable_item_is_reported_not_a_lost_page() -> None:
    body = captured("messages_sample.xml").replace(
        b"<created_at>2016-08-21T1:50:04+01:00</created_at>", b"<created_at>soon</created_at>"
    )
    _, items, unreadable = listed(body, "message")
    assert len(items) == 2
    assert unreadable == (
        "message ACCS9888-0912-987S-DEDZ-012987129831: <created_at> is not a date-time: 'soon'",
    )


def test_an_order_with_a_non_numeric_amount_is_left_out_with_why() -> None:
    body = captured("query_orders_response.xml").replace(
        b"<quantity>13</quantity>", b"<quantity>treize</quantity>", 1
    )
    _, items, unreadable = listed(body, "order")
    assert len(items) == 6
    assert unreadable == ("order 57BEAFDA828A8: <quantity> is not an integer",)
    body = captured("query_incidents_response.xml").replace(
        b"<updated_at>2016-08-29T17:53:51+02:00", b"<updated_at>soon", 1
    )
    assert listed(body, "incident")[2] == (
        "incident 7525927C-6FDC-CD2C-2DBA-6E669C5045AF: <updated_at> is not a date-time: 'soon'",
    )


def test_a_response_in_another_shape_is_a_protocol_error() -> None:
    root = xml.parse(captured("auth_response.xml"))
    with pytest.raises(FnacProtocolError, match="expected <orders_query_response>"):
        xml.ENVELOPE.expect_root(root, "orders_query")
    no_status = b'<orders_query_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd"/>'
    with pytest.raises(FnacProtocolError, match="no status"):
        xml.ENVELOPE.status(xml.parse(no_status))


# --- requests -------------------------------------------------------------------------------


def built(service: str, query: msgspec.Struct, header: dict[str, str] = HEADER) -> bytes:
    """The request the client sends for ``query``, with the token's attributes."""
    return request(xml.NS, service, header, query)


def canonical(document: bytes) -> bytes:
    root = etree.fromstring(document, etree.XMLParser(remove_blank_text=True))
    for name in ("partner_id", "shop_id", "token"):
        if name in root.attrib:
            root.set(name, "X")
    return bytes(etree.tostring(root, method="c14n"))


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("query_messages_request.xml", built("messages_query", MessagesQuery())),
        (
            "query_orders_request.xml",
            built("orders_query", OrdersQuery(results_count=10)),
        ),
        (
            "query_orders_created_between_dates_request.xml",
            built(
                "orders_query",
                OrdersQuery(
                    results_count=10,
                    date=DateRange(
                        type="CreatedAt",
                        min=xml.xml_instant(datetime(2016, 8, 20, tzinfo=UTC)),
                        max=xml.xml_instant(datetime(2016, 9, 20, tzinfo=UTC)),
                    ),
                ),
            ),
        ),
        ("query_incidents_request.xml", built("incidents_query", IncidentsQuery())),
    ],
)
def test_requests_are_shaped_like_the_ones_fnac_accepted(name: str, sent: bytes) -> None:
    assert canonical(sent) == canonical(captured(name))
    assert sent.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_auth_request_is_valid_and_carries_the_key_as_an_element() -> None:
    credentials = FnacCredentials(partner_id=PARTNER, shop_id=SHOP, key="secret-key")
    request = built("auth", credentials, {})
    assert_valid(request, "auth")
    root = etree.fromstring(request)
    assert root.findtext(f"{{{xml.NS}}}key") == "secret-key"


def test_messages_query_with_every_filter_is_valid() -> None:
    query = MessagesQuery(
        page=3,
        results_count=50,
        date=DateRange(
            type="CreatedAt",
            min=xml.xml_instant(datetime(2026, 1, 1, tzinfo=UTC)),
            max=xml.xml_instant(datetime(2026, 1, 2, 12, tzinfo=PARIS)),
        ),
        from_types=("CLIENT", "CALLCENTER"),
        message_type="ORDER",
        order_ids=(ORDER_ID, "57BEB008B27C6"),
        sort=ByCreation("ASC"),
    )
    request = built("messages_query", query)
    assert_valid(request, "messages_query")
    root = etree.fromstring(request)
    assert root.attrib == {**HEADER, "results_count": "50"}
    assert root.findtext(f"{{{xml.NS}}}paging") == "3"
    dates = root.findall(f"{{{xml.NS}}}date")
    assert [(d.get("type"), d.findtext(f"{{{xml.NS}}}min")) for d in dates] == [
        ("CreatedAt", "2026-01-01T00:00:00+00:00"),
    ]
    assert dates[0].findtext(f"{{{xml.NS}}}max") == "2026-01-02T10:00:00+00:00"
    assert [e.text for e in root.iter(f"{{{xml.NS}}}from_type")] == ["CLIENT", "CALLCENTER"]


def test_messages_update_reply_and_mark_as_read_are_valid() -> None:
    text = "Bonjour,\nvotre colis part demain <b>&</b> \x07 arrive \U0001f4e6 lundi."
    updates = [
        MessageUpdate(
            message_id="6F9EF013-6387-F433-C3F5-4AAEF32AA317",
            action="reply",
            to="CLIENT",
            subject="shipping_information",
            text=text,
            message_type="ORDER",
        ),
        MessageUpdate(message_id="6F9EF013-6387-F433-C3F5-4AAEF32AA317", action="mark_as_read"),
    ]
    request = built("messages_update", MessagesUpdate(tuple(updates)))
    assert_valid(request, "messages_update")
    reply = etree.fromstring(request).find(f"{{{xml.NS}}}message")
    assert reply is not None and reply.attrib == {
        "id": "6F9EF013-6387-F433-C3F5-4AAEF32AA317",
        "action": "reply",
    }
    # The control character XML cannot hold became U+FFFD; markup stays text.
    assert reply.findtext(f"{{{xml.NS}}}message_description") == text.replace("\x07", "\ufffd")
    with pytest.raises(ValueError):
        MessagesUpdate(())


def test_orders_query_by_date_and_fifty_ids_is_valid() -> None:
    ids = tuple(f"{n:013d}" for n in range(50))
    query = OrdersQuery(
        date=DateRange(type="UpdatedAt", min=xml.xml_instant(datetime(2026, 1, 1, tzinfo=UTC))),
        order_ids=ids,
        sort="DESC",
    )
    request = built("orders_query", query)
    assert_valid(request, "orders_query")
    assert len(etree.fromstring(request).findall(f".//{{{xml.NS}}}order_fnac_id")) == 50
    with pytest.raises(ValueError, match="at most 50"):
        OrdersQuery(order_ids=(*ids, "5000000000000"))


def test_incidents_query_by_date_is_valid() -> None:
    query = IncidentsQuery(
        date=DateRange(type="UpdatedAt", min=xml.xml_instant(datetime(2026, 1, 1, tzinfo=UTC))),
        sort="ASC",
    )
    assert_valid(built("incidents_query", query), "incidents_query")


def test_the_header_is_required_by_the_schema() -> None:
    """The check above can fail: a request without its token attributes' partner is refused."""
    request = built("orders_query", OrdersQuery(), {"token": TOKEN})
    schema = etree.XMLSchema(etree.parse(str(XSD / SCHEMAS["orders_query"])))
    assert not schema.validate(etree.fromstring(request))


# --- hostile and broken documents -----------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK"><token>&lol9;</token></auth_response>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE auth_response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK"><token>&xxe;</token></auth_response>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE auth_response SYSTEM "http://127.0.0.1:9/evil.dtd">
<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK"><token>t</token></auth_response>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK"/>"""

PLAIN_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE auth_response>
<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK"><token>t</token></auth_response>"""

DTD_AFTER_COMMENTS = b"""\xef\xbb\xbf<?xml version="1.0"?>
<!-- <auth_response> --><?php echo 1; ?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK"><token>&e;</token></auth_response>"""


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        EXTERNAL_DTD,
        PARAMETER_ENTITY,
        PLAIN_DTD,
        DTD_AFTER_COMMENTS,
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "external-dtd",
        "parameter-entity",
        "dtd",
        "late-dtd",
    ],
)
def test_documents_with_a_dtd_are_refused_without_expanding_anything(document: bytes) -> None:
    """Refused before the parser sees it: libxml2 would otherwise expand the laughs up to its
    amplification limit and open the parameter entity's file."""
    # CPU time, this process's own: what the work costs, not how busy the machine is.
    started = time.process_time()
    with pytest.raises(FnacProtocolError, match="carries a DTD") as refused:
        xml.parse(document)
    assert time.process_time() - started < 0.5
    assert "root:" not in str(refused.value) and "lollol" not in str(refused.value)


# A DTD written in UTF-7 under a declaration naming it: no "<!" among the bytes.
UTF7_DTD = (
    b'<?xml version="1.0" encoding="UTF-7"?>'
    b"+ADw-+ACE-DOCTYPE auth_response +AFs-+ADw-+ACE-ENTITY e +ACI-EXPANDED+ACI-+AD4-+AF0-+AD4-"
    b'<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK">'
    b"<token>&e;</token></auth_response>"
)
UTF16_DTD = (
    '<?xml version="1.0" encoding="UTF-16"?>'
    '<!DOCTYPE auth_response [<!ENTITY e "EXPANDED">]>'
    '<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK">'
    "<token>&e;</token></auth_response>"
)
PLAIN_AUTH = (
    '<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK">'
    "<token>t\u00e9</token></auth_response>"
)


@pytest.mark.parametrize(
    "document",
    [
        UTF7_DTD,
        UTF7_DTD.replace(b"UTF-7", b"utf-7"),
        b"+/v8-" + UTF7_DTD.replace(b' encoding="UTF-7"', b""),  # UTF-7's byte order mark
        UTF16_DTD.encode("utf-16"),  # with its byte order mark
        UTF16_DTD.encode("utf-16-le"),
        UTF16_DTD.encode("utf-16-be"),
        UTF16_DTD.replace("UTF-16", "UTF-32").encode("utf-32"),
    ],
    ids=["utf7", "utf7-lower", "utf7-bom", "utf16-bom", "utf16-le", "utf16-be", "utf32"],
)
def test_a_dtd_in_another_encoding_is_refused_without_expanding_anything(document: bytes) -> None:
    with pytest.raises(FnacProtocolError, match="not UTF-8") as refused:
        xml.parse(document)
    assert "EXPANDED" not in str(refused.value)


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "windows-1252", "US-ASCII", "UTF-16"])
def test_an_encoding_fnac_does_not_answer_in_is_refused_unread(encoding: str) -> None:
    document = f'<?xml version="1.0" encoding="{encoding}"?>{PLAIN_AUTH}'.encode("latin-1")
    with pytest.raises(FnacProtocolError, match=f"declared encoding '{encoding}' is not UTF-8"):
        xml.parse(document)


@pytest.mark.parametrize(
    "prolog",
    [b"", b'<?xml version="1.0"?>\n', b"<?xml version='1.0' encoding='UTF-8'?>", b"\xef\xbb\xbf"],
    ids=["none", "no-encoding", "utf-8", "bom"],
)
def test_a_utf8_answer_is_read_whatever_its_prolog(prolog: bytes) -> None:
    token = xml.ENVELOPE.node(xml.parse(prolog + PLAIN_AUTH.encode())).decode(AuthToken)
    assert token.token == "t\u00e9"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (captured("query_orders_response.xml")[:5000], "not well-formed"),
        (b"", "empty response"),
        (b"   \n", "empty response"),
        (b"<html><body>502 Bad Gateway</body></html>", "not in http://www.fnac.com"),
        (b'{"status": "OK"}', "not well-formed"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not well-formed"),
        (b"<auth_response status='OK'><token>t</token></auth_response>", "is not in"),
        ('<?xml version="1.0" encoding="utf-16"?><a/>'.encode("utf-16"), "not UTF-8"),
    ],
    ids=["truncated", "empty", "blank", "html", "json", "binary", "no-namespace", "utf-16"],
)
def test_broken_documents_are_protocol_errors(document: bytes, reason: str) -> None:
    with pytest.raises(FnacProtocolError, match=reason):
        xml.parse(document)


def test_markup_inside_a_message_is_text_not_a_dtd() -> None:
    body = captured("query_messages_response.xml").replace(
        b"Incident test message", b"<!DOCTYPE html><!ENTITY x 'y'>&amp;"
    )
    _, (message,), _ = listed(body, "message")
    assert message.body.endswith("<!DOCTYPE html><!ENTITY x 'y'>&amp;")


def test_an_oversize_document_is_refused_before_parsing() -> None:
    body = captured("query_orders_response.xml")
    with pytest.raises(FnacProtocolError, match="larger than 1000 bytes"):
        xml.parse(body, max_bytes=1000)
    assert xml.parse(body, max_bytes=len(body)) is not None


def fnac_date(text: str) -> datetime:
    """A date as Fnac's answers are read: an element's text, through its envelope."""
    root = etree.fromstring(f'<r xmlns="{xml.NS}"><d>{text}</d></r>'.encode())
    return xml.ENVELOPE.node(root).required_datetime("d")


def test_dates_as_fnac_writes_them() -> None:
    assert fnac_date("2016-10-28T9:50:04+01:00") == datetime(2016, 10, 28, 8, 50, 4, tzinfo=UTC)
    assert fnac_date("2016-10-28T09:50:04.123456789Z").microsecond == 123456
    assert fnac_date("2016-10-28 09:50") == datetime(2016, 10, 28, 9, 50, tzinfo=UTC)
    for bad in ("yesterday", "2016-13-01T00:00:00Z", "2016-10-28"):
        with pytest.raises(FnacProtocolError):
            fnac_date(bad)


def test_the_parsed_document_is_checked_again_with_its_entities_unresolved() -> None:
    """The lock behind the two before parsing: libxml2 leaves an internal entity as a
    reference (never its text), and a parsed document with a DTD or a reference is refused."""
    document = UTF16_DTD.replace(' encoding="UTF-16"', "").encode()
    parsed = etree.fromstring(document, xml_answers.PARSER)
    assert "EXPANDED" not in "".join(parsed.itertext())
    assert [e.name for e in parsed.iter(etree.Entity)] == ["e"]
    with pytest.raises(FnacProtocolError, match="refused after parsing"):
        xml_answers.refuse_parsed(parsed, FnacProtocolError)
    without_dtd = etree.fromstring(PLAIN_AUTH.encode(), xml_answers.PARSER)
    without_dtd[0].append(etree.Entity("e"))
    with pytest.raises(FnacProtocolError, match="entity reference"):
        xml_answers.refuse_parsed(without_dtd, FnacProtocolError)
    xml_answers.refuse_parsed(
        etree.fromstring(PLAIN_AUTH.encode(), xml_answers.PARSER), FnacProtocolError
    )
