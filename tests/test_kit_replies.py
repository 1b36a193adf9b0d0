"""The kit's reply channel for discussions (``kit.DeclaredReplies``), on a connector of
the test's own whose calls are scripted (no servers): what is FAILED, what is raised, and
what a read-back gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_shared.connectors.kit import CallErrors, DeclaredReplies
from keybuzz_shared.connectors.seam import (
    CallOutcomeUnknown,
    CallRefused,
    CallUnavailable,
    InboxMessage,
    Reply,
    ThreadKey,
)

ERRORS = CallErrors.labelled("Shop")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DISCUSSION = ThreadKey("DISCUSSION", "42", "order-1")


def message(
    message_id: str, sender: str, at: datetime, thread: ThreadKey = DISCUSSION
) -> InboxMessage:
    """A message of ``thread`` as a discussion's listing gives it back."""
    return InboxMessage(
        message_id=message_id,
        thread=thread,
        sender_type=sender,  # type: ignore[arg-type]
        sender_name=None,
        subject="",
        body="…",
        created_at=at,
        unread=False,
    )


class Scripted:
    def __init__(self, send: Exception | str | None = None, listed: Exception | None = None):
        self.sent: list[Reply] = []
        self._send, self._listed = send, listed
        channel = DeclaredReplies(
            "Shop", "conversation", post=self.send, listed=self.listed, refused=self.unsendable
        )
        self.reply, self.sent_messages = channel.reply, channel.sent_messages

    def unsendable(self, reply: Reply) -> str | None:
        return "too long" if len(reply.body) > 10 else None

    async def send(self, reply: Reply) -> str | None:
        if isinstance(self._send, Exception):
            raise self._send
        self.sent.append(reply)
        return self._send

    async def listed(self, discussion_id: str) -> list[InboxMessage]:
        if self._listed:
            raise self._listed
        return [
            message("old", "SELLER", NOW - timedelta(hours=1)),
            message("buyer", "BUYER", NOW),
            message("ours", "SELLER", NOW),
        ]


def reply(body: str = "Bonjour", thread: ThreadKey = DISCUSSION) -> Reply:
    return Reply(thread=thread, in_reply_to="m1", body=body)


async def test_a_reply_is_sent_once_and_said_sent() -> None:
    channel = Scripted()
    outcome = await channel.reply(reply())
    assert (outcome.status, len(channel.sent)) == ("SENT", 1)


@pytest.mark.parametrize(
    ("channel", "sent", "reason"),
    [
        (
            Scripted(),
            reply(thread=ThreadKey("ORDER", "order-1")),
            "Shop's replies go to a conversation, not to an ORDER",
        ),
        (Scripted(), reply("far too long a reply"), "too long"),
        (Scripted(send="closed at Shop"), reply(), "closed at Shop"),
        (
            Scripted(send=ERRORS.refused("POST m", 400, "no")),
            reply(),
            "Shop POST m answered HTTP 400: no",
        ),
    ],
    ids=["not-a-discussion", "unsendable", "refused-before-the-call", "refused-by-the-call"],
)
async def test_a_reply_the_marketplace_refuses_or_would_is_failed_with_why(
    channel: Scripted, sent: Reply, reason: str
) -> None:
    outcome = await channel.reply(sent)
    assert (outcome.status, outcome.reason) == ("FAILED", reason)


@pytest.mark.parametrize(
    "error",
    [ERRORS.unavailable("POST m", "HTTP 503"), ERRORS.outcome_unknown("POST m", "timeout")],
)
async def test_a_reply_not_sent_or_in_doubt_raises_for_the_caller_to_retry_or_read_back(
    error: Exception,
) -> None:
    with pytest.raises((CallUnavailable, CallOutcomeUnknown)):
        await Scripted(send=error).reply(reply())


async def test_the_read_back_gives_the_sellers_messages_from_the_reply_on() -> None:
    found = await Scripted().sent_messages(DISCUSSION, NOW)
    assert [m.message_id for m in found] == ["ours"]
    assert await Scripted().sent_messages(ThreadKey("ORDER", "order-1"), NOW) == []


async def test_a_discussion_the_marketplace_no_longer_knows_reads_back_empty() -> None:
    gone = Scripted(listed=ERRORS.refused("GET d", 404, "not found"))
    assert await gone.sent_messages(DISCUSSION, NOW) == []
    with pytest.raises(CallRefused):
        await Scripted(listed=ERRORS.refused("GET d", 403, "no")).sent_messages(DISCUSSION, NOW)


async def test_a_listing_dated_coarser_is_read_back_from_that_much_earlier() -> None:
    scripted = Scripted()
    coarse = DeclaredReplies(
        "Shop",
        "conversation",
        post=scripted.send,
        listed=scripted.listed,
        dated_to=timedelta(hours=1),
    )
    found = await coarse.sent_messages(DISCUSSION, NOW)
    assert [m.message_id for m in found] == ["old", "ours"]
