"""Octopia's discussions as the seam's inbox messages, and a reply's recipients and files as
Octopia takes them: the pure mapping, on answers shaped as the double and the reference
notes' variants show them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from keybuzz_connector_cdiscount.connector import OctopiaClient, OctopiaCredentials
from keybuzz_connector_cdiscount.discussions import (
    CUSTOMER_CARE,
    EXTENSIONS,
    LIMITS,
    DiscussionInbox,
    file_format,
    inbox_message,
    read_discussion,
    read_discussions,
    receivers,
    unsendable_files,
)
from keybuzz_shared.connectors.kit.listing import WindowCursor
from keybuzz_shared.connectors.seam import ReplyFile, ThreadDetail, ThreadKey, cursor_of

LABELS = {"productIsDamaged": "Produit endommagé"}
FILES = "https://api.example/seller/v2/attachments/"


def discussion(**fields: Any) -> dict[str, Any]:
    return {
        "discussionId": "4400012",
        "subject": "Produit endommagé",
        "orderReference": "2611230948AAACH",
        "orderSellerId": "2611230948AAACH",
        "isOpen": True,
        "graduation": "Discussion",
        "typologyCode": "Order",
        "subTypologyCode": "productIsDamaged",
        "createdAt": "2026-11-20T10:00:00Z",
        "updatedAt": "2026-11-21T10:00:00Z",
        "status": "ToTreat",
        "customerId": "77001",
        "sellerId": "55",
        "salesChannel": "CDISFR",
        **fields,
    }


def message(**fields: Any) -> dict[str, Any]:
    return {
        "messageId": "9001",
        "body": "Le carton était enfoncé.",
        "sender": {"userId": "77001", "userType": "Customer"},
        "receiver": {"userId": "55", "userType": "Seller"},
        "receivers": [{"userId": "55", "userType": "Seller"}],
        "createdAt": "2026-11-21T10:00:00Z",
        "hasRead": False,
        "attachments": [],
        **fields,
    }


def mapped(disc: dict[str, Any], msg: dict[str, Any]) -> Any:
    read = read_discussion({**disc, "messages": [msg]})
    assert read.messages is not None
    return inbox_message(read, read.messages[0], LABELS, FILES)


def test_a_buyers_message_is_threaded_by_its_discussion_with_its_order_and_details() -> None:
    found = mapped(discussion(), message())
    assert found.message_id == "9001"
    assert found.thread == ThreadKey("DISCUSSION", "4400012", order_id="2611230948AAACH")
    assert found.thread.order == "2611230948AAACH"
    assert found.thread_details == (
        ThreadDetail("sales_channel", "Canal de vente", "Cdiscount France"),
        ThreadDetail("topic", "Motif", "Commande"),
        ThreadDetail("sub_topic", "Sous-motif", "Produit endommagé"),
    )
    assert found.sender_type == "BUYER" and found.sender_name is None
    assert found.unread and not found.claim
    assert found.created_at == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert found.subject == "Produit endommagé" and found.body == "Le carton était enfoncé."


@pytest.mark.parametrize(
    ("typology", "sub_typology", "subject"),
    [
        ("Order", "orderNotShipped", "WHERE_IS_MY_ORDER"),
        ("Order", "productIsDamaged", "DAMAGED_OR_WRONG_ITEM"),
        ("Order", "wrongProductReceived", "DAMAGED_OR_WRONG_ITEM"),
        ("Order", "missingItemInProduct", "DAMAGED_OR_WRONG_ITEM"),
        ("Order", "orderCancellation", "CANCELLATION"),
        ("Order", "printReceipt", "INVOICE_REQUEST"),
        ("Offer", "productInformation", "PRODUCT_QUESTION"),
        ("Offer", "somethingNew", "PRODUCT_QUESTION"),  # before buying, whatever the code
        ("Order", "somethingNew", None),  # the buyer's words decide
        ("Order", None, None),
    ],
)
def test_the_typology_is_the_tickets_subject(
    typology: str, sub_typology: str | None, subject: str | None
) -> None:
    found = mapped(discussion(typologyCode=typology, subTypologyCode=sub_typology), message())
    assert found.ticket_subject == subject
    assert found.language is None  # Octopia does not say it: the buyer's words do


@pytest.mark.parametrize(
    ("graduation", "claim"),
    [("Discussion", False), ("Claim", True), ("Level_1", True), (None, False)],
)
def test_a_claim_is_a_discussion_graduated_claim_or_level_1(
    graduation: str | None, claim: bool
) -> None:
    assert mapped(discussion(graduation=graduation), message()).claim is claim


@pytest.mark.parametrize(
    ("user_type", "sender_type", "name"),
    [
        ("Customer", "BUYER", None),
        ("GrcOperator", "MARKETPLACE_SUPPORT", CUSTOMER_CARE),
        ("Seller", "SELLER", None),
        ("SomethingNew", "SYSTEM", None),
    ],
)
def test_each_sender_is_shown_as_who_it_is(
    user_type: str, sender_type: str, name: str | None
) -> None:
    found = mapped(discussion(), message(sender={"userId": "1", "userType": user_type}))
    assert (found.sender_type, found.sender_name) == (sender_type, name)


def test_the_variants_integrations_meet_are_read() -> None:
    """One recipient or several, numeric ids, optional fields missing, an offer's question
    without an order, a read message."""
    offer = {
        "discussionId": 4400013,
        "updatedAt": "2026-11-21T10:00:00",  # no zone: UTC
        "typologyCode": "Offer",
        "subTypologyCode": "productInformation",
        "orderReference": None,
    }
    msg = {
        "messageId": 9002,
        "createdAt": "2026-11-21T10:00:00+01:00",
        "receiver": {"userType": "Seller"},
        "hasRead": True,
    }
    found = mapped(offer, msg)
    assert found.message_id == "9002" and found.thread == ThreadKey("DISCUSSION", "4400013")
    assert found.thread.order is None
    assert found.thread_details == (
        ThreadDetail("topic", "Motif", "Produit (avant achat)"),
        ThreadDetail("sub_topic", "Sous-motif", "productInformation"),  # no label: the code
    )
    assert found.sender_type == "SYSTEM" and not found.unread and found.body == ""
    assert found.created_at == datetime(2026, 11, 21, 9, tzinfo=UTC)


def test_the_order_falls_back_on_the_sellers_order_field() -> None:
    found = mapped(discussion(orderReference=None, orderSellerId="X1"), message())
    assert found.thread.order_id == "X1"


@pytest.mark.parametrize(
    "item",
    [
        {"subject": "no id"},
        discussion(updatedAt="yesterday"),
        discussion(messages=[{"messageId": "1"}]),  # a message without its date
        "not an object",
    ],
)
def test_a_discussion_off_its_shape_is_refused_naming_why(item: Any) -> None:
    with pytest.raises(ValueError, match="discussion off its shape"):
        read_discussion(item)


def test_files_are_fetched_from_octopias_attachments_address_with_their_type() -> None:
    files = [
        {"attachmentId": "A/../1", "name": "photo-colis.jpg", "fileFormat": "jpg"},
        {"attachmentId": "A2", "name": "facture", "fileFormat": "PDF"},
        {"attachmentId": "A3", "name": "", "fileFormat": "zzz"},
    ]
    read = read_discussion({**discussion(), "messages": [message(attachments=files)]})
    assert read.messages is not None
    found = inbox_message(read, read.messages[0], LABELS, FILES)
    assert [(f.name, f.url, f.content_type) for f in found.files] == [
        ("photo-colis.jpg", FILES + "A%2F..%2F1", "image/jpeg"),
        ("facture", FILES + "A2", "application/pdf"),
        ("A3", FILES + "A3", "application/octet-stream"),
    ]


# --- the cursor -------------------------------------------------------------------------

T0 = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = T0 + timedelta(days=1)


def at(seconds: int) -> dict[str, Any]:
    return discussion(updatedAt=(T0 + timedelta(seconds=seconds)).isoformat())


def listing(
    pages: list[tuple[list[dict[str, Any]], str | None]], asked: list[dict[str, str]]
) -> Any:
    """The inbox's declared listing (the kit's Seek by pageIndex, its query, its old
    cursors) on pages answered in turn, each page's query kept in ``asked``."""
    inbox = DiscussionInbox(
        OctopiaClient(
            OctopiaCredentials(client_id="c", client_secret="s", seller_id="55"),
            httpx.AsyncClient(),
        ),
        page_size=100,
    )

    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
        asked.append(query)
        return pages.pop(0)

    return dataclasses.replace(inbox.listing, fetch=fetch)


async def test_the_next_page_seeks_past_the_last_update_read() -> None:
    asked: list[dict[str, str]] = []
    seek = listing([([at(1), at(5)], "next")], asked)
    step = await seek.step(WindowCursor(T0, UNTIL), read_discussions)
    assert step.following == WindowCursor(T0 + timedelta(seconds=5), UNTIL)
    assert seek.resume(cursor_of(step.following), updated=True) == step.following
    assert asked == [
        {
            "updatedAtMin": "2026-11-01T00:00:00Z",
            "updatedAtMax": "2026-11-02T00:00:00Z",
            "pageSize": "100",
            "pageIndex": "1",
        }
    ]


async def test_a_page_all_at_one_instant_is_followed_by_number() -> None:
    asked: list[dict[str, str]] = []
    seek = listing([([at(5), at(5)], "next")], asked)
    five = T0 + timedelta(seconds=5)
    step = await seek.step(WindowCursor(five, UNTIL, page=2), read_discussions)
    assert step.following == WindowCursor(five, UNTIL, page=3)
    assert asked[0]["pageIndex"] == "2"


async def test_the_last_page_has_no_next() -> None:
    step = await listing([([at(1)], None)], []).step(WindowCursor(T0, UNTIL), read_discussions)
    assert step.following is None and len(step.items) == 1


@pytest.mark.parametrize(
    "cursor", ["", "%%%", cursor_of([T0, T0 + timedelta(1), 1]), cursor_of([UNTIL, T0, 0]), "AAAA"]
)
def test_a_cursor_it_did_not_give_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        listing([], []).resume(cursor, updated=True)


# --- replies ----------------------------------------------------------------------------


def eligible(*types: str) -> Any:
    users = [{"userId": f"u-{t}", "userType": t} for t in types]
    return read_discussion(discussion(eligibleReceivers=users))


def test_a_reply_goes_to_the_eligible_recipient_asked_for() -> None:
    both = eligible("Customer", "GrcOperator")
    assert [u.user_type for u in receivers(both, "BUYER")] == ["Customer"]  # type: ignore[union-attr]
    assert [u.user_type for u in receivers(both, "MARKETPLACE_SUPPORT")] == ["GrcOperator"]  # type: ignore[union-attr]
    assert [u.user_type for u in receivers(both, "ALL")] == ["Customer", "GrcOperator"]  # type: ignore[union-attr]


@pytest.mark.parametrize("recipient", ["MARKETPLACE_SUPPORT", "ALL", "OPERATOR"])
def test_a_recipient_the_discussion_does_not_offer_is_refused_naming_those_it_does(
    recipient: Any,
) -> None:
    found = receivers(eligible("Customer"), recipient)
    assert isinstance(found, str)
    assert f"does not offer {recipient}" in found and "eligible: Customer" in found


def file(name: str, content_type: str, size: int = 10) -> ReplyFile:
    return ReplyFile(name=name, content_type=content_type, data=b"x" * size)


def test_a_files_format_is_its_extension_or_its_media_types() -> None:
    assert LIMITS.attachment_formats == tuple(EXTENSIONS)  # the media types taken: those named
    assert {"image/jpeg", "application/pdf"} <= set(LIMITS.attachment_formats)
    assert file_format(file("scan.JPEG", "image/jpeg")) == "jpeg"  # named beside jpg
    assert file_format(file("scan.jpg", "application/pdf")) == "jpg"  # the name decides
    assert file_format(file("devis", "application/pdf")) == "pdf"
    assert file_format(file("devis", " Application/PDF ")) == "pdf"
    assert file_format(file("devis.zzz", "application/pdf")) == "pdf"  # an extension not named
    assert file_format(file("notes.txt", "text/plain")) is None


def test_files_octopia_would_refuse_are_named_with_the_rule() -> None:
    assert unsendable_files((file("a.pdf", "application/pdf"),) * 3) is None
    many = unsendable_files((file("a.pdf", "application/pdf"),) * 4)
    assert many == "Cdiscount takes at most 3 files a reply"
    big = file("a.pdf", "application/pdf", 4 * 1024 * 1024 + 1)
    large = unsendable_files((big,)) or ""
    assert "at most" in large and "4 MB" in large
    refused = unsendable_files((file("notes.txt", "text/plain"),)) or ""
    assert refused.startswith("notes.txt: Cdiscount takes only ") and "jpeg, jpg, pdf" in refused
