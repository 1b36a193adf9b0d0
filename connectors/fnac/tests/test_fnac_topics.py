"""What a Fnac/Darty message's subject and an incident's kind say of the ticket's subject,
as the client reads them (pure, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from keybuzz_connector_fnac import client as xml
from keybuzz_shared.connectors.seam import InboxMessage

AT = datetime(2026, 11, 20, 8, tzinfo=UTC)


def _message(subject: str) -> InboxMessage:
    """A buyer's message of ``subject`` as the client reads it."""
    body = (
        f'<messages_query_response xmlns="{xml.NS}" status="OK"><message state="UNREAD">'
        '<message_id>m1</message_id><message_referer type="ORDER">O1</message_referer>'
        f'<message_from type="CLIENT">Jeanne</message_from><message_subject>{subject}'
        "</message_subject><message_description>Bonjour</message_description>"
        f"<created_at>{AT.isoformat()}</created_at></message></messages_query_response>"
    )
    (node,) = xml.read_page(xml.parse(body.encode()), "message").items
    return xml.read_message(node)


@pytest.mark.parametrize(
    ("subject", "ticket_subject"),
    [
        ("product_information", "PRODUCT_QUESTION"),
        ("shipping_information", "WHERE_IS_MY_ORDER"),
        ("offer_not_received", "WHERE_IS_MY_ORDER"),
        ("offer_problem", "DAMAGED_OR_WRONG_ITEM"),
        ("Offer_Problem", "DAMAGED_OR_WRONG_ITEM"),  # compared in lower case
        ("order_information", None),
        ("other_question", None),
        ("Nouvelle réclamation", None),
    ],
)
def test_a_messages_subject_is_the_tickets_subject(
    subject: str, ticket_subject: str | None
) -> None:
    mapped = _message(subject)
    assert mapped.ticket_subject == ticket_subject
    assert mapped.language is None  # Fnac does not say it: the buyer's words do


@pytest.mark.parametrize(
    ("types", "ticket_subject"),
    [
        (("1",), "WHERE_IS_MY_ORDER"),
        (("3", "1"), "DAMAGED_OR_WRONG_ITEM"),
        (("99",), None),
        ((), None),
    ],
)
def test_an_incidents_kind_is_the_tickets_subject(
    types: tuple[str, ...], ticket_subject: str | None
) -> None:
    lines = "".join(
        f"<order_detail_incident><type>{t}</type></order_detail_incident>" for t in types
    )
    header = (
        "<status>OPENED</status><waiting_for_seller_answer>TRUE</waiting_for_seller_answer>"
        "<message>Article non reçu</message><opened_by>client</opened_by>"
        f"<created_at>{AT.isoformat()}</created_at><updated_at>{AT.isoformat()}</updated_at>"
        "<order_id>O1</order_id>"
    )
    body = (
        f'<incidents_query_response xmlns="{xml.NS}" status="OK"><incident id="I1">'
        f"<header>{header}</header><order_details_incident>{lines}</order_details_incident>"
        "</incident></incidents_query_response>"
    )
    (node,) = xml.read_page(xml.parse(body.encode()), "incident").items
    assert xml.read_incident(node).ticket_subject == ticket_subject
