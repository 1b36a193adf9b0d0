"""What a Fnac/Darty message's subject and an incident's kind say of the ticket's subject
(pure, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from keybuzz_connector_fnac.models import Incident, Message
from keybuzz_connector_fnac.session import _inbox_message as _message
from keybuzz_connector_fnac.session import _incident

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
    incident = Incident(
        incident_id="I1",
        order_id="O1",
        status="OPENED",
        waiting_for_seller_answer=True,
        message="Article non reçu",
        opened_by="CLIENT",
        created_at=AT,
        updated_at=AT,
        line_types=types,
    )
    assert _incident(incident).ticket_subject == ticket_subject
