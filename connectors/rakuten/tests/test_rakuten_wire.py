"""Rakuten's XML read and mapped, without a server: an item's thread (who wrote, in which
order, each message's id, the claim and dates as its state, its latest mail), Rakuten's
rule of whom a reply may go to, a sale's states, and its refusals' envelope; on a
stand-in of the shop's client, the to-do items' pages (numeric id order) and the calls a
reply makes (to customer service, the latest mail its parent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_connector_rakuten import wire
from keybuzz_connector_rakuten.connector import CONNECTOR, inbox, replies
from keybuzz_shared.connectors.kit.requester import Garbled
from keybuzz_shared.connectors.seam import (
    CallAnswerUnreadable,
    CredentialsRefused,
    Recipient,
    Reply,
    ReplyGate,
    RequestRefused,
    ThreadDetail,
    ThreadKey,
    ThreadStanding,
)

LOGIN = "boutique-7001"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def answer(xml: str) -> wire.Answer:
    return wire.ANSWERS.read(xml.encode(), 1 << 20, lambda t: t.replace("s3cret", "*"))


ITEM = """<?xml version="1.0" encoding="UTF-8"?>
<getiteminfosresult xmlns="http://pmws.example/">
 <request><version>2017-08-07</version><user>boutique-7001</user></request>
 <response><purchaseid>512345678</purchaseid><purchasedate>20/11/2026-09:30</purchasedate>
  <item><itemid>612345678</itemid><itemstatus>ACCEPTED</itemstatus>
   <receiveddate>24/11/2026-18:00</receiveddate>
   <claim><status>OPEN</status><amicable>false</amicable></claim>
   <message><sender>BOUTIQUE-7001</sender><recipient>jean</recipient>
    <senddate>21/11/2026-10:05</senddate><content><![CDATA[Bien expédié]]></content><status>READ</status></message>
   <message><sender>jean</sender><recipient>boutique-7001</recipient>
    <senddate>21/11/2026-09:00</senddate><content><![CDATA[Où est mon colis ?]]></content><status>UNREAD</status></message>
   <mail><mailid>77</mailid><sender>Rakuten</sender><recipient>boutique-7001</recipient>
    <senddate>22/11/2026-08:00</senddate><object>Réclamation en cours</object><content>Merci de répondre</content><status>UNREAD</status></mail>
   <message><sender>jean</sender><senddate>pas une date</senddate><content>?</content></message>
  </item></response></getiteminfosresult>"""


def test_an_items_messages_are_one_thread_in_order_each_writer_told_apart() -> None:
    item = wire.item_of(answer(ITEM), LOGIN)
    said = [(m.sender_type, m.body) for m in item.messages]
    assert said == [
        ("BUYER", "Où est mon colis ?"),
        ("SELLER", "Bien expédié"),
        ("MARKETPLACE_SUPPORT", "Merci de répondre"),
    ]
    assert {m.thread for m in item.messages} == {ThreadKey("DISCUSSION", "612345678", "512345678")}
    assert item.messages[0].created_at == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # Paris
    assert item.messages[0].unread and not item.messages[1].unread
    assert item.messages[2].message_id == "612345678:mail:77" and item.latest_mail == "77"
    assert len(item.unreadable) == 1 and "pas une date" in item.unreadable[0]
    again = wire.item_of(answer(ITEM), LOGIN)
    assert [m.message_id for m in again.messages] == [m.message_id for m in item.messages]


def test_the_claim_and_the_items_dates_are_the_threads_state() -> None:
    message = wire.item_of(answer(ITEM), LOGIN).messages[0]
    details = {d.name: d.value for d in message.thread_details}
    assert message.claim and details["claim"] == "OPEN" and "claim_amicable" not in details
    assert details["item_status"] == "ACCEPTED"
    assert details["ordered_at"] == "2026-11-20T08:30:00+00:00"
    assert details["received_at"] == "2026-11-24T17:00:00+00:00"


def standing(
    claim: bool = False, amicable: bool = False, ordered: int = 2, received: int | None = None
) -> ThreadStanding:
    details = [ThreadDetail("ordered_at", "", (NOW - timedelta(days=ordered)).isoformat())]
    if received is not None:
        at = (NOW - timedelta(days=received)).isoformat()
        details.append(ThreadDetail("received_at", "", at))
    if amicable:
        details.append(ThreadDetail("claim_amicable", "", "oui"))
    return ThreadStanding(details=tuple(details), claim=claim)


def reply(recipient: Recipient) -> Reply:
    thread = ThreadKey("DISCUSSION", "612345678", "512345678")
    return Reply(thread=thread, in_reply_to="m", body="Bonjour", recipient=recipient)


@pytest.mark.parametrize(
    ("recipient", "state", "refused"),
    [
        ("BUYER", standing(), None),
        ("BUYER", standing(claim=True), "claim is open"),
        ("BUYER", standing(claim=True, amicable=True), None),
        ("BUYER", standing(received=15), None),
        ("BUYER", standing(received=16), "received more than 15 days"),
        ("BUYER", standing(ordered=42), None),
        ("BUYER", standing(ordered=43), "ordered more than 42 days"),
        ("MARKETPLACE_SUPPORT", standing(claim=True, ordered=60), None),
        # Its customer service takes a message up to 30 days after receipt, not 15.
        ("MARKETPLACE_SUPPORT", standing(received=16), None),
        ("MARKETPLACE_SUPPORT", standing(received=30, ordered=40), None),
        ("MARKETPLACE_SUPPORT", standing(received=31), "more than 30 days"),
    ],
)
def test_a_reply_rakuten_would_refuse_is_refused_with_its_rule(
    recipient: Recipient, state: ThreadStanding, refused: str | None
) -> None:
    gate = CONNECTOR.shop_api
    assert isinstance(gate, ReplyGate)
    reason = gate.reply_refusal(reply(recipient), state, NOW)
    assert (reason is None) if refused is None else (refused in (reason or ""))


# An item's mails out of date order: the first listed, the latest (by its date, not its
# id), the oldest (the highest id).
TWO_MAILS = """<getiteminfosresult><response><purchaseid>512345678</purchaseid>
  <item><itemid>612345678</itemid>
   <mail><mailid>100</mailid><sender>boutique-7001</sender><senddate>22/11/2026-08:00</senddate>
    <content>Entre les deux</content></mail>
   <mail><mailid>105</mailid><sender>Rakuten</sender><senddate>23/11/2026-08:00</senddate>
    <content>Le plus récent</content></mail>
   <mail><mailid>120</mailid><sender>Rakuten</sender><senddate>21/11/2026-08:00</senddate>
    <content>Le plus ancien</content></mail>
  </item></response></getiteminfosresult>"""


def test_a_reply_to_customer_service_answers_the_items_latest_mail() -> None:
    """``mailparentid`` is the item's latest mail by its date, not the first listed, the
    oldest, nor the highest id."""
    assert wire.item_of(answer(TWO_MAILS), LOGIN).latest_mail == "105"
    assert wire.item_of(answer(ITEM), LOGIN).latest_mail == "77"  # its only mail


def todo_list(ids: list[str]) -> str:
    items = "".join(f"<item><itemid>{i}</itemid></item>" for i in ids)
    return f"<getitemtodolistresult><response><items>{items}</items></response></getitemtodolistresult>"


class StandIn:
    """A unit-tier stand-in for the shop's client: its to-do list, each item's thread
    (``thread``, under the item's id), the items asked for and the actions sent."""

    def __init__(self, ids: list[str], thread: str = ITEM) -> None:
        self.ids, self.thread = ids, thread
        self.asked: list[str] = []
        self.sent: list[tuple[str, dict[str, str]]] = []

    async def action(
        self, name: str, params: dict[str, str] | None = None, *, sends: bool = False
    ) -> wire.Answer:
        if name != "getitemtodolist":
            self.sent.append((name, dict(params or {})))
        return answer(todo_list(self.ids))

    async def item(self, item_id: str) -> wire.Item:
        self.asked.append(item_id)
        return wire.item_of(answer(self.thread.replace("612345678", item_id)), LOGIN)


async def test_a_reply_to_customer_service_is_sent_as_an_answer_to_the_latest_mail() -> None:
    client = StandIn([], TWO_MAILS)
    post = replies(client).post  # type: ignore[arg-type]
    await post(reply("MARKETPLACE_SUPPORT"))
    await post(reply("BUYER"))
    assert client.sent == [
        (
            "contactusaboutitem",
            {"itemid": "612345678", "message": "Bonjour", "mailparentid": "105"},
        ),
        ("contactuseraboutitem", {"itemid": "612345678", "content": "Bonjour"}),
    ]


async def test_the_to_do_items_are_paged_in_numeric_id_order() -> None:
    """Items "1" to "25" in a shuffled list: the first page is items 1 to 20 ("9" before
    "10"), the next 21 to 25; an id that is not a number is said, the others read."""
    ids = [str(n) for n in range(25, 0, -1)]
    client = StandIn(ids[::2] + ["x7"] + ids[1::2])
    items = inbox(client)  # type: ignore[arg-type]
    since = datetime(2026, 11, 1, tzinfo=UTC)
    first = await items.inbox_messages(since=since)
    assert client.asked == [str(n) for n in range(1, 21)] and first.next_cursor
    assert [u for u in first.unreadable if "x7" in u]
    client.asked.clear()
    second = await items.inbox_messages(since=since, cursor=first.next_cursor)
    assert client.asked == ["21", "22", "23", "24", "25"] and second.next_cursor is None


async def test_an_items_messages_are_listed_from_since_and_its_newest_always() -> None:
    """Rakuten lists an item to do whatever its messages' dates: a poll keeps those from
    a minute before ``since`` (Rakuten dates to the minute), and the newest (the item's
    state) however old; a message off its shape is said, the item's others kept."""
    page = await inbox(StandIn(["612345678"])).inbox_messages(  # type: ignore[arg-type]
        since=datetime(2026, 11, 21, 9, 5, 30, tzinfo=UTC)
    )
    assert [m.body for m in page.items] == ["Bien expédié", "Merci de répondre"]
    assert [u for u in page.unreadable if "pas une date" in u or "senddate" in u]
    late = await inbox(StandIn(["612345678"])).inbox_messages(  # type: ignore[arg-type]
        since=datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert [m.body for m in late.items] == ["Merci de répondre"]


def test_a_sales_items_states_make_the_orders() -> None:
    sales = answer("""<getcurrentsalesresult><response><sales>
      <sale><purchaseid>512345679</purchaseid><purchasedate>01/10/2026-12:00</purchasedate><items>
       <item><itemid>1</itemid><itemstatus>CANCELLED</itemstatus></item>
       <item><itemid>2</itemid><itemstatus>shipped</itemstatus><sku>S</sku>
        <price><amount>12.50</amount><currency>EUR</currency></price></item>
      </items></sale></sales><nexttoken>10</nexttoken></response></getcurrentsalesresult>""")
    [sale], token = wire.sales_page(sales)
    order = wire.order_of(sale)
    assert token == "10" and order.external_id == "512345679"
    assert (order.status, order.delivery_status, order.state) == ("SHIPPED", "SHIPPED", "SHIPPED")
    assert [(line.status, str(line.unit_price)) for line in order.lines] == [
        ("CANCELLED", "None"),
        ("SHIPPED", "12.50"),
    ]


def test_an_errorresponse_is_a_refusal_in_rakutens_words_its_secrets_masked() -> None:
    refused = answer("""<errorresponse xmlns="https://static.fr.shopping.rakuten.com/res/schema/error">
      <error><type>Sender</type><code>ParameterError</code><message>Problem with parameters</message>
      <details><detail>bad pwd s3cret</detail></details></error></errorresponse>""")
    refusal = wire.ANSWERS.refusal(refused)
    assert refusal is not None and not refusal.later
    said = str(wire.refused("getiteminfos", 200, refused))
    assert "ParameterError Problem with parameters bad pwd *" in said


def errors(*codes: str) -> wire.Answer:
    said = "".join(
        f"<error><code>{c}</code><message>no s3cret</message><details><detail>d</detail>"
        "</details></error>"
        for c in codes
    )
    return answer(f'<errorresponse xmlns="urn:any:{len(codes)}">{said}</errorresponse>')


def test_an_errorresponse_refuses_the_call_or_the_credentials_or_asks_again_later() -> None:
    """Its errors said code first (secrets masked), whatever its namespace; every one of
    them ``ServerError``: asked again; a credentials code refuses the credentials, any
    other the call; a result's root is no refusal, read at any depth by local name."""
    said = errors("ParameterError", "ServerError")
    assert wire.ANSWERS.refusal(said) == ("errorresponse ParameterError, ServerError", False)
    assert wire.ANSWERS.refusal(errors("ServerError")) == ("errorresponse ServerError", True)
    assert "ParameterError no * d; ServerError no * d" in str(wire.refused("sales_ws", 200, said))
    refused = wire.refused("sales_ws", 200, errors("InvalidCredentials"))
    assert isinstance(refused, CredentialsRefused)
    other = wire.refused("sales_ws", 200, said)
    assert isinstance(other, RequestRefused) and not isinstance(other, CredentialsRefused)
    assert isinstance(wire.refused("sales_ws", 403, None), CredentialsRefused)
    ok = answer('<r xmlns="urn:x"><response><a><b>1</b></a><a><b>2</b></a></response></r>')
    assert wire.ANSWERS.refusal(ok) is None
    assert [n.text("b") for n in wire.result(ok, "r").all("a")] == ["1", "2"]
    assert wire.result(ok, "r").text("a/b") == "1"
    with pytest.raises(CallAnswerUnreadable):
        wire.result(ok, "other")


@pytest.mark.parametrize(
    "hostile",
    [
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>',
        '<?xml version="1.0" encoding="UTF-7"?><r/>',
    ],
)
def test_hostile_xml_is_refused_by_the_kits_guard(hostile: str) -> None:
    with pytest.raises(CallAnswerUnreadable):
        answer(hostile)


def test_a_truncated_answer_is_garbled_asked_again() -> None:
    with pytest.raises(Garbled):
        answer(ITEM[: len(ITEM) // 2])
