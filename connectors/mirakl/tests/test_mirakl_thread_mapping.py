"""Mirakl's threads as the seam's messages (unit tier, no server): one ticket per thread
with its order beside it, who wrote each message, the thread's participants deciding whom
a reply may go to (as M10 gives them just before M12), what M12 would refuse (its files
too, before any call), and cursors this connector did not hand out."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from keybuzz_connector_mirakl.threads import (
    Thread,
    complete,
    messages_of,
    recipients,
    thread_inbox,
    thread_replies,
    unsendable,
)
from keybuzz_connector_mirakl.threads import read_thread as thread_of_bytes
from keybuzz_shared.connectors.kit import CallErrors
from keybuzz_shared.connectors.seam import CallAnswerUnreadable, Reply, ReplyFile, ThreadKey

THREAD: dict[str, Any] = {
    "id": "6c1f0d3e-7d0b-4a0e-9d5b-1f7e1c1a2b3c",
    "date_updated": "2026-11-20T10:00:00.000Z",
    "topic": {"type": "FREE_TEXT", "value": "Colis abîmé"},
    "entities": [{"id": "O-123-A", "label": "O-123", "type": "MMP_ORDER"}],
    "authorized_participants": [
        {"type": "SHOP", "id": "2318", "display_name": "Ma boutique"},
        {"type": "CUSTOMER", "id": "c1", "display_name": "Jeanne D."},
    ],
    "metadata": {"total_count": 3, "shop_reply_needed_since": None},
    "messages": [
        {
            "id": "m2",
            "body": "Nous regardons.",
            "date_created": "2026-11-20T09:00:00.000Z",
            "from": {"type": "OPERATOR_USER", "display_name": "Service client"},
            "to": [],
        },
        {
            "id": "m1",
            "body": "Mon colis est abîmé.",
            "date_created": "2026-11-20T08:00:00.000Z",
            "from": {"type": "CUSTOMER_USER", "display_name": "Jeanne D."},
            "attachments": [{"id": "a1", "name": "photo.jpg", "size": 10}],
        },
        {
            "id": "m3",
            "body": "Nouveau type",
            "date_created": "2026-11-20T09:30:00.000Z",
            "from": {"type": "ROBOT_USER"},
        },
    ],
}


def read_thread(value: dict[str, Any]) -> Thread:
    """The thread as M11 and M10 send it: its bytes."""
    return thread_of_bytes(msgspec.json.encode(value))


def test_a_thread_is_one_ticket_its_messages_oldest_first_with_who_wrote_them() -> None:
    listed = messages_of(read_thread(THREAD), "Boulanger")
    assert [m.message_id for m in listed] == ["m1", "m2", "m3"]
    assert {m.thread for m in listed} == {ThreadKey("DISCUSSION", THREAD["id"], "O-123-A")}
    assert [m.sender_type for m in listed] == ["BUYER", "MARKETPLACE_SUPPORT", "SYSTEM"]
    assert listed[1].sender_name == "Boulanger (Service client)"
    assert [(f.name, f.url, f.content_type) for f in listed[0].files] == [
        ("photo.jpg", "api/inbox/threads/a1/download", "image/jpeg")
    ]
    details = {d.name: d.value for d in listed[0].thread_details}
    assert details == {"topic": "Colis abîmé", "order": "O-123"}
    assert listed[0].subject == "Colis abîmé" and listed[0].unread


@pytest.mark.parametrize(
    ("topic", "subject"),
    [
        ({"type": "FREE_TEXT", "value": "Colis abîmé"}, "DAMAGED_OR_WRONG_ITEM"),
        ({"type": "FREE_TEXT", "value": "Suivi de commande"}, "WHERE_IS_MY_ORDER"),
        ({"type": "FREE_TEXT", "value": "Information produit"}, "PRODUCT_QUESTION"),
        ({"type": "FREE_TEXT", "value": "Demande de facture"}, "INVOICE_REQUEST"),
        ({"type": "REASON_CODE", "value": "PRODUCT_DAMAGED"}, "DAMAGED_OR_WRONG_ITEM"),
        ({"type": "REASON_CODE", "value": "ORDER_CANCELLATION"}, "CANCELLATION"),
        ({"type": "FREE_TEXT", "value": "Question sur la commande"}, None),
        (None, None),
    ],
)
def test_the_threads_topic_is_the_tickets_subject(
    topic: dict[str, str] | None, subject: str | None
) -> None:
    listed = messages_of(read_thread(THREAD | {"topic": topic}), "Boulanger")
    assert {m.ticket_subject for m in listed} == {subject}
    assert {m.language for m in listed} == {None}  # a thread has no locale: the words say it


class Answering:
    """M11 answering ``body`` (None: no answer, a 204), decoded as the requester does."""

    operator = "BOULANGER"
    errors = CallErrors.labelled("Mirakl")

    def __init__(self, body: bytes | None) -> None:
        self.body = body

    async def get_json(self, *args: Any, shape: Any = None, **kwargs: Any) -> Any:
        return None if self.body is None else msgspec.json.decode(self.body, type=shape)


async def test_an_m11_page_gives_its_threads_and_the_next_token_and_one_without_them_is_unreadable() -> (
    None
):
    since = datetime(2026, 11, 1, tzinfo=UTC)
    page = msgspec.json.encode({"data": [THREAD], "next_page_token": "t2"})
    listed = thread_inbox(Answering(page), operator_name="Boulanger")  # type: ignore[arg-type]
    read = await listed.inbox_messages(since=since)
    assert len(read.items) == 3 and read.next_cursor is not None
    for garbled in (b'{"data": 7}', b'{"threads": []}', b"[1]", None):  # None: a 204
        inbox = thread_inbox(Answering(garbled), operator_name="Boulanger")  # type: ignore[arg-type]
        with pytest.raises(CallAnswerUnreadable, match="no list of data"):
            await inbox.inbox_messages(since=since)


def test_a_thread_listed_without_all_its_messages_is_read_whole() -> None:
    assert complete(read_thread(THREAD))
    assert not complete(read_thread(THREAD | {"metadata": {"total_count": 120}}))
    assert not complete(read_thread({k: v for k, v in THREAD.items() if k != "messages"}))


def test_a_reply_goes_only_to_whom_the_thread_allows() -> None:
    thread = read_thread(THREAD)
    assert recipients(thread, "BUYER") == [{"type": "CUSTOMER"}]
    for refused in ("MARKETPLACE_SUPPORT", "ALL", "OPERATOR"):
        said = recipients(thread, refused)  # type: ignore[arg-type]
        assert isinstance(said, str) and "participants: SHOP, CUSTOMER" in said
    both = read_thread(
        THREAD
        | {"authorized_participants": [*THREAD["authorized_participants"], {"type": "OPERATOR"}]}
    )
    assert recipients(both, "ALL") == [{"type": "CUSTOMER"}, {"type": "OPERATOR"}]


def test_a_reply_mirakl_would_refuse_is_failed_before_any_call() -> None:
    # Longer than LIMITS: the kit's refusal, before this one is asked (below).
    reply = Reply(thread=ThreadKey("DISCUSSION", "t"), in_reply_to="m1", body="ok")
    assert "3 to 50000 characters" in (unsendable(reply) or "")
    assert unsendable(Reply(thread=reply.thread, in_reply_to="m1", body="Bonjour")) is None


class NoCall:
    """A shop's client that a reply refused before any call never reaches."""

    async def get_json(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("M10 asked for a reply Mirakl would refuse")

    async def post_multipart(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("M12 asked for a reply Mirakl would refuse")


def _files(count: int, size: int) -> tuple[ReplyFile, ...]:
    return tuple(
        ReplyFile(name=f"f{i}.pdf", content_type="application/pdf", data=b"x" * size)
        for i in range(count)
    )


@pytest.mark.parametrize(
    ("body", "files", "said"),
    [
        ("Bonjour", _files(11, 1), "at most 10 files"),
        # The files within 30 MB, the message with its text not (M12, OR43's words).
        ("Bonjour", _files(1, 30 * 1024 * 1024 - 3), "30 MB with its files"),
        ("x" * 50_001, (), "longer than 50000 characters"),
    ],
)
async def test_a_reply_with_files_mirakl_would_refuse_is_failed_without_a_call(
    body: str, files: tuple[ReplyFile, ...], said: str
) -> None:
    client: Any = NoCall()
    reply = Reply(
        thread=ThreadKey("DISCUSSION", THREAD["id"]),
        in_reply_to="m1",
        body=body,
        attachments=files,
    )
    replies = thread_replies(client, thread_inbox(client, operator_name="Boulanger"))
    outcome = await replies.reply(reply)
    assert outcome.status == "FAILED" and said in (outcome.reason or ""), outcome


class OneThread:
    """A shop's client whose M10 gives ``THREAD``; each M12 it is asked kept."""

    def __init__(self) -> None:
        self.posted: list[str] = []

    async def get_json(self, path: str, *args: Any, **kwargs: Any) -> Any:
        return msgspec.Raw(msgspec.json.encode(THREAD))

    async def post_multipart(self, path: str, parts: Any, **kwargs: Any) -> None:
        self.posted.append(path)


@pytest.mark.parametrize(("recipient", "sent"), [("BUYER", True), ("MARKETPLACE_SUPPORT", False)])
async def test_a_reply_is_sent_only_to_whom_the_thread_read_just_before_allows(
    recipient: Any, sent: bool
) -> None:
    client: Any = OneThread()
    thread = ThreadKey("DISCUSSION", THREAD["id"])
    reply = Reply(thread=thread, in_reply_to="m1", body="Bonjour", recipient=recipient)
    replies = thread_replies(client, thread_inbox(client, operator_name="Boulanger"))
    outcome = await replies.reply(reply)
    assert (outcome.status == "SENT") is sent and len(client.posted) == int(sent), outcome
    assert sent or "participants: SHOP, CUSTOMER" in (outcome.reason or "")


@pytest.mark.parametrize("cursor", ["", "not base64 !", "kA=="])
async def test_a_cursor_this_connector_did_not_give_is_refused(cursor: str) -> None:
    inbox = thread_inbox(NoThreads(), operator_name="Boulanger")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a cursor"):
        await inbox.inbox_messages(since=datetime(2026, 11, 1, tzinfo=UTC), cursor=cursor)


class NoThreads:
    """M11 answering that no thread changed."""

    operator = "BOULANGER"

    async def get_json(self, *args: Any, shape: Any = None, **kwargs: Any) -> Any:
        return msgspec.json.decode(b'{"data": [], "next_page_token": null}', type=shape)


async def test_a_listing_that_finds_nothing_moves_the_next_one_on() -> None:
    """An idle shop's next poll starts near the last one, not at the first poll's date."""
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    listed = thread_inbox(NoThreads(), operator_name="Boulanger")  # type: ignore[arg-type]
    idle = dataclasses.replace(listed, now=lambda: now)
    page = await idle.inbox_messages(since=now - timedelta(days=30))
    assert page.items == () and page.next_cursor is None
    assert page.complete_until == now - timedelta(minutes=1)
    # Never before where it started: a clock behind the cursor leaves it where it was.
    later = await idle.inbox_messages(since=now + timedelta(hours=1))
    assert later.complete_until == now + timedelta(hours=1)


class OneThreadOffItsShape:
    """M11 answering a page's bytes, decoded into the shape asked as the requester does:
    three threads, the second's ``date_updated`` not a date, the third's
    ``current_participants`` (a field the connector does not read) not a list."""

    operator = "BOULANGER"

    async def get_json(self, *args: Any, shape: Any = None, **kwargs: Any) -> Any:
        threads = [
            THREAD,
            THREAD | {"id": "t-bad", "date_updated": "yesterday"},
            THREAD
            | {
                "id": "t-3",
                "messages": THREAD["messages"][:1],
                "metadata": {"total_count": 1},
                "current_participants": 7,
            },
        ]
        page = msgspec.json.encode({"data": threads, "next_page_token": None})
        return msgspec.json.decode(page, type=shape)


async def test_a_thread_off_its_shape_costs_that_thread_never_the_page() -> None:
    listing = thread_inbox(OneThreadOffItsShape(), operator_name="Boulanger")  # type: ignore[arg-type]
    page = await listing.inbox_messages(since=datetime(2026, 11, 1, tzinfo=UTC))
    assert {m.thread.id for m in page.items} == {THREAD["id"], "t-3"}
    assert len(page.items) == 4 and page.next_cursor is None
    [said] = page.unreadable
    assert said.startswith("thread off its shape") and "date_updated" in said
