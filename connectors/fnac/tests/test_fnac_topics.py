"""What a Fnac/Darty message's subject and an incident's kind say of the ticket's subject
(pure, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from keybuzz_connector_fnac import client as xml
from keybuzz_connector_fnac.models import Message
from keybuzz_connector_fnac.session import _inbox_message as _message

AT = datetime(2026, 11, 20, 8, tzinfo=UTC)


def message(subject: str) -> Message:
    return Message(
        message_id="m1",
        referer_type="ORDER",
        referer="O1",
        from_type="CLIENT",
        from_name="Jeanne",
        subject=subject,
        description="Bonjour",
        created_at=AT,
        read=False,
    )


@pytest.mark.parametrize(
    ("subject", "ticket_subject"),
    [
        ("product_information", "PRODUCT_QUESTION"),
        ("shipping_information", "WHERE_IS_MY_ORDER"),
        ("offer_not_received", "WHERE_IS_MY_ORDER"),
        ("offer_problem", "DAMAGED_OR_WRONG_ITEM"),
        ("order_information", None),
        ("other_question", None),
        ("Nouvelle réclamation", None),
    ],
)
def test_a_messages_subject_is_the_tickets_subject(
    subject: str, ticket_subject: str | None
) -> None:
    mapped = _message(message(subject))
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
    (incident,) = xml.read_incidents(xml.parse(body.encode())).items
    assert incident.ticket_subject == ticket_subject
