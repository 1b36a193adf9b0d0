"""What a care folder says of its ticket's language and subject (pure, no server): the
folder's locale, the claims' declared issues; and the details its ticket shows, only
those with a value."""

from __future__ import annotations

from typing import Any

import pytest
from keybuzz_connector_backmarket.care import inbox_messages_of, read_folder


def folder(**fields: Any) -> dict[str, Any]:
    return {
        "id": 881,
        "state": 0,
        "country_code": "de-de",
        "messages": [
            {
                "id": 1,
                "date_creation": "2026-11-20T08:00:00Z",
                "message": "Hallo, das Gerät lädt nicht mehr.",
                "initiator": "Customer",
            },
            {
                "id": 2,
                "date_creation": "2026-11-20T09:00:00Z",
                "message": "Wir schauen uns das an.",
                "initiator": "Merchant",
            },
        ],
        "lines": [
            {
                "id": 5,
                "state": 0,
                "issues": [{"customerIssue": "BATTERY_NOT_CHARGING", "tag": "TECHNICAL"}],
            }
        ],
        **fields,
    }


def test_a_folders_locale_is_its_messages_language_and_its_claim_their_subject() -> None:
    listed = inbox_messages_of(read_folder(folder()))
    assert [(m.language, m.ticket_subject) for m in listed] == [
        ("de", "DAMAGED_OR_WRONG_ITEM"),
        ("de", "DAMAGED_OR_WRONG_ITEM"),
    ]


@pytest.mark.parametrize(
    ("country", "language"),
    [("es-es", "es"), ("fr-be", "fr"), ("sv-se", "sv"), ("en-gb", "en"), (None, None)],
)
def test_the_locale_gives_the_language(country: str | None, language: str | None) -> None:
    listed = inbox_messages_of(read_folder(folder(country_code=country)))
    assert {m.language for m in listed} == {language}


@pytest.mark.parametrize(
    ("issues", "subject"),
    [
        ([{"customerIssue": "DAMAGED_PACKAGE", "tag": "DELIVERY"}], "DAMAGED_OR_WRONG_ITEM"),
        ([{"customerIssue": "MISSING_PART", "tag": "DELIVERY"}], "DAMAGED_OR_WRONG_ITEM"),
        ([{"customerIssue": "ITEM_NOT_RECEIVED", "tag": "DELIVERY"}], "WHERE_IS_MY_ORDER"),
        ([{"customerIssue": "SOMETHING_NEW", "tag": "AESTHETIC"}], "DAMAGED_OR_WRONG_ITEM"),
        # issues the shared rules do not read, whatever their tag says
        ([{"customerIssue": "ACCOUNT_LOCKED", "tag": "OTHER"}], "DAMAGED_OR_WRONG_ITEM"),
        ([{"customerIssue": "BATTERY_NOT_CHARGING"}], "DAMAGED_OR_WRONG_ITEM"),
        ([{"customerIssue": "SOMETHING_NEW", "tag": "OTHER"}], None),
        ([], None),
    ],
)
def test_the_claims_declared_issue_gives_the_subject(
    issues: list[dict[str, str]], subject: str | None
) -> None:
    listed = inbox_messages_of(read_folder(folder(lines=[{"id": 5, "state": 0, "issues": issues}])))
    assert {m.ticket_subject for m in listed} == {subject}


def test_a_folder_without_a_claim_says_no_subject() -> None:
    listed = inbox_messages_of(read_folder(folder(lines=[])))
    assert {m.ticket_subject for m in listed} == {None}


def test_a_claims_choice_and_warranty_are_shown_in_french_else_as_written() -> None:
    claims = [
        {"id": 5, "state": 0, "resolution_choice": "REPAIR", "declared_warranty_state": "X"},
        {"id": 6, "state": 9, "resolution_choice": "NEW_CHOICE"},
    ]
    [first, *_] = inbox_messages_of(read_folder(folder(lines=claims, country_code=None)))
    assert [(d.name, d.value) for d in first.thread_details] == [
        ("folder_state", "ouvert"),
        ("claim1", "5, ouverte"),
        ("resolution_choice1", "réparation"),
        ("warranty_state1", "X"),
        ("claim2", "6, fermée"),
        ("resolution_choice2", "NEW_CHOICE"),
    ]
