"""Replies on a listed inbox's discussion read before each post (``ListedThreads.read_first``,
``kit/threads.py``), and the inbox's messages of one thread (``ListedThreads.messages_in``),
without servers: the post sends on the discussion as read at that moment, or keeps the reply
unsent saying why; the read-back reads it again and gives the seller's messages from the
reply on, mapped as the inbox's pages are."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from keybuzz_shared.connectors.kit import CallErrors, KitSession
from keybuzz_shared.connectors.seam import InboxMessage, Reply, SenderType, ThreadKey

ERRORS = CallErrors.labelled("Shop")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


class Discussion(msgspec.Struct, frozen=True):
    id: str
    is_open: bool
    said: tuple[tuple[str, SenderType, datetime], ...] = ()  # (id, sender, when)


def message(discussion: Discussion, said: tuple[str, SenderType, datetime]) -> InboxMessage:
    thread = ThreadKey(kind="DISCUSSION", id=discussion.id)
    return InboxMessage(
        message_id=said[0],
        thread=thread,
        sender_type=said[1],
        sender_name=None,
        subject="",
        body="",
        created_at=said[2],
        unread=False,
    )


class Shop:
    """A marketplace's discussions, from the test's own table: each read and send kept."""

    def __init__(self, *discussions: Discussion) -> None:
        self.discussions = {d.id: d for d in discussions}
        self.read: list[str] = []
        self.sent: list[tuple[Discussion, str]] = []

    async def discussion(self, discussion_id: str) -> Discussion:
        self.read.append(discussion_id)
        if discussion_id not in self.discussions:
            raise ERRORS.refused("GET discussions", 404, "no such discussion")
        return self.discussions[discussion_id]

    async def send(self, discussion: Discussion, reply: Reply) -> str | None:
        if not discussion.is_open:
            return f"discussion {discussion.id} is closed"
        self.sent.append((discussion, reply.body))
        return None

    def replies(self, **declared: Any) -> Any:
        inbox = listed_inbox(lambda d: [message(d, said) for said in d.said], [])
        return inbox.read_first("Shop", "discussion", self.discussion, self.send, **declared)


def listed_inbox(
    messages: Callable[[Discussion], list[InboxMessage]], mapped: list[str]
) -> KitSession.ListedThreads[Discussion]:
    """An inbox mapping each discussion by ``messages``; each mapping made kept in ``mapped``."""

    async def mapper() -> Any:
        mapped.append("table read")  # what a page's mapping needs, read each time
        return messages

    async def whole(discussion: Discussion) -> Discussion:
        return discussion

    async def no_file(file: Any, max_bytes: int) -> bytes:
        return b""

    unused: Any = None  # no listing nor page read: only one thread's messages are asked
    return KitSession.ListedThreads(
        unused,
        unused,
        complete=lambda discussion: True,
        read_whole=whole,
        mapper=mapper,
        named=lambda d: d.id,
        files=no_file,
    )


def reply(discussion_id: str, body: str = "Bonjour") -> Reply:
    return Reply(thread=ThreadKey(kind="DISCUSSION", id=discussion_id), in_reply_to="m", body=body)


async def test_a_reply_is_sent_on_the_discussion_as_read_just_before() -> None:
    shop = Shop(Discussion("7", is_open=True))
    outcome = await shop.replies().reply(reply("7"))
    assert outcome.status == "SENT"
    assert shop.read == ["7"] and shop.sent == [(Discussion("7", is_open=True), "Bonjour")]


async def test_a_reply_the_discussion_keeps_unsent_fails_saying_why() -> None:
    shop = Shop(Discussion("8", is_open=False))
    outcome = await shop.replies().reply(reply("8"))
    assert (outcome.status, outcome.reason) == ("FAILED", "discussion 8 is closed")
    assert shop.sent == []


async def test_a_reply_its_own_rule_refuses_is_not_read_nor_sent() -> None:
    shop = Shop(Discussion("7", is_open=True))
    outcome = await shop.replies(refused=lambda r: "too short").reply(reply("7"))
    assert (outcome.status, outcome.reason) == ("FAILED", "too short")
    assert shop.read == [] and shop.sent == []


async def test_the_read_back_reads_the_discussion_again_for_the_sellers_messages() -> None:
    said: tuple[tuple[str, SenderType, datetime], ...] = (
        ("1", "BUYER", T0),
        ("2", "SELLER", T0 - timedelta(hours=1)),  # before the reply
        ("3", "SELLER", T0 + timedelta(seconds=5)),
    )
    shop = Shop(Discussion("7", is_open=True, said=said))
    found = await shop.replies().sent_messages(ThreadKey(kind="DISCUSSION", id="7"), T0)
    assert [m.message_id for m in found] == ["3"] and shop.read == ["7"]


async def test_a_discussion_the_marketplace_does_not_know_holds_no_message_sent() -> None:
    shop = Shop()
    assert await shop.replies().sent_messages(ThreadKey(kind="DISCUSSION", id="9"), T0) == []
    assert shop.read == ["9"]


async def test_a_listed_inbox_maps_one_threads_messages_as_its_pages_do() -> None:
    mapped: list[str] = []
    inbox = listed_inbox(lambda d: [message(d, said) for said in reversed(d.said)], mapped)
    said: tuple[tuple[str, SenderType, datetime], ...] = (("1", "BUYER", T0), ("2", "SELLER", T0))
    found = await inbox.messages_in(Discussion("7", is_open=True, said=said))
    assert [m.message_id for m in found] == ["2", "1"] and mapped == ["table read"]


@pytest.mark.parametrize("kind", ["ORDER", "OFFER"])
async def test_a_reply_on_another_kind_of_thread_is_refused_unread(kind: str) -> None:
    shop = Shop(Discussion("7", is_open=True))
    outcome = await shop.replies().reply(
        Reply(thread=ThreadKey(kind=kind, id="7"), in_reply_to="m", body="Bonjour")  # type: ignore[arg-type]
    )
    assert outcome.status == "FAILED" and shop.read == []
