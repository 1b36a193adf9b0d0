"""Rakuten's XML read and mapped, without a server: an item's thread (who wrote, in which
order, each message's id, the claim and dates as its state), Rakuten's rule of whom a
reply may go to, a sale's states, and its refusals' envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_connector_rakuten import wire
from keybuzz_connector_rakuten.connector import CONNECTOR
from keybuzz_shared.connectors.kit.answers import Garbled
from keybuzz_shared.connectors.seam import (
    CallAnswerUnreadable,
    Recipient,
    Reply,
    ReplyGate,
    ThreadDetail,
    ThreadKey,
    ThreadStanding,
)

LOGIN = "boutique-7001"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def answer(xml: str) -> wire.Answer:
    return wire.RakutenAnswers().read(xml.encode(), 1 << 20, lambda t: t.replace("s3cret", "*"))


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


def standing(claim: bool = False, amicable: bool = False, ordered: int = 2,
             received: int | None = None) -> ThreadStanding:  # fmt: skip
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
        ("CANCELLED", "None"), ("SHIPPED", "12.50")
    ]  # fmt: skip


def test_an_errorresponse_is_a_refusal_in_rakutens_words_its_secrets_masked() -> None:
    refused = answer("""<errorresponse xmlns="https://static.fr.shopping.rakuten.com/res/schema/error">
      <error><type>Sender</type><code>ParameterError</code><message>Problem with parameters</message>
      <details><detail>bad pwd s3cret</detail></details></error></errorresponse>""")
    assert refused.refused is not None and not refused.refused.later
    assert refused.refused.reason == "ParameterError Problem with parameters bad pwd *"


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
