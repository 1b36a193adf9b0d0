"""Replies on a marketplace's own threads, declared (kit/threads.py): the text sent
as the marketplace carries it, a reply it could not take FAILED without a call, a refusal
FAILED with its words, whatever else raised, and a thread of a kind it has not read back as
none. No server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from keybuzz_shared.connectors.kit import DeclaredReplies
from keybuzz_shared.connectors.seam import (
    CallUnavailable,
    InboxMessage,
    Limits,
    Reply,
    ReplyFile,
    RequestRefused,
    ThreadKey,
)

ORDER = ThreadKey(kind="ORDER", id="o-1")
LIMITS = Limits(max_attachments=0, max_attachment_bytes=0, max_text_length=10, page_size=5)


class Marketplace:
    def __init__(self, answer: str | None | Exception = None) -> None:
        self.answer = answer
        self.posted: list[str] = []
        self.read: list[ThreadKey] = []

    async def post(self, reply: Reply) -> str | None:
        self.posted.append(reply.body)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def read_back(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        self.read.append(thread)
        return []


def replies(marketplace: Marketplace) -> DeclaredReplies:
    return DeclaredReplies(
        "Market",
        "thread of an order",
        post=marketplace.post,
        read_back=marketplace.read_back,
        threads=frozenset({"ORDER"}),
        recipients=("BUYER",),
        limits=LIMITS,
        carried=lambda text: text.replace("\x01", ""),
    )


async def test_a_reply_is_posted_as_carried_and_sent() -> None:
    market = Marketplace()
    outcome = await replies(market).reply(Reply(thread=ORDER, in_reply_to="m", body="Hi\x01!"))
    assert (outcome.status, market.posted) == ("SENT", ["Hi!"])


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(thread=ORDER, in_reply_to="m", body="\x01 "), "empty reply"),
        (Reply(thread=ORDER, in_reply_to="m", body="x" * 11), "reply longer than 10 characters"),
        (
            Reply(
                thread=ORDER,
                in_reply_to="m",
                body="Hi",
                attachments=(ReplyFile(name="a.pdf", content_type="application/pdf", data=b"%"),),
            ),
            "Market takes at most 0 files a reply",
        ),
        (
            Reply(thread=ORDER, in_reply_to="m", body="Hi", recipient="OPERATOR"),
            "Market's replies go to BUYER, not OPERATOR",
        ),
        (
            Reply(thread=ThreadKey(kind="DISCUSSION", id="d"), in_reply_to="m", body="Hi"),
            "Market's replies go to a thread of an order, not to an DISCUSSION",
        ),
    ],
)
async def test_a_reply_the_marketplace_could_not_take_fails_without_a_call(
    reply: Reply, reason: str
) -> None:
    market = Marketplace()
    outcome = await replies(market).reply(reply)
    assert (outcome.status, outcome.reason, market.posted) == ("FAILED", reason, [])


async def test_a_refusal_fails_with_its_words_and_an_outage_goes_up() -> None:
    reply = Reply(thread=ORDER, in_reply_to="m", body="Hi")
    said = await replies(Marketplace("closed thread")).reply(reply)
    assert (said.status, said.reason) == ("FAILED", "closed thread")
    refused = await replies(Marketplace(RequestRefused("answered FATAL E_1"))).reply(reply)
    assert (refused.status, refused.reason) == ("FAILED", "answered FATAL E_1")
    with pytest.raises(CallUnavailable):
        await replies(Marketplace(CallUnavailable("post", "down"))).reply(reply)


async def test_only_the_marketplaces_threads_are_read_back() -> None:
    market = Marketplace()
    since = datetime(2026, 11, 1, tzinfo=UTC)
    assert await replies(market).sent_messages(ThreadKey(kind="DISCUSSION", id="d"), since) == []
    assert await replies(market).sent_messages(ORDER, since) == []
    assert market.read == [ORDER]
