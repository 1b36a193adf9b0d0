"""The reply channel (the seam's ``ReplyChannel``) of a marketplace whose replies go on its
own threads (an order's, an offer's: ``Discussions.threads``), declared: what every such
marketplace does alike around the one call that posts and the one listing that reads a
thread back.

A reply's text is sent as the marketplace's messages carry it (``Discussions.carried``).
One that is then empty, longer than the connector's ``Limits`` or carrying more files
than they allow, or addressed to someone the marketplace has not on that thread (its
``recipients``, its ``threads``), is a FAILED outcome without a call, and so is one it
refused (a ``RequestRefused``: its own words, or the reason ``post`` gives); whatever else
the call raises goes up (unavailable: nothing sent; outcome unknown: read the thread back
before sending again). A thread of a kind the marketplace has not holds no message sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from keybuzz_shared.connectors.kit.connector import Discussions
from keybuzz_shared.connectors.seam import (
    InboxMessage,
    Limits,
    Reply,
    ReplyOutcome,
    RequestRefused,
    ThreadKey,
    failed_reply,
)


@dataclass(frozen=True)
class ThreadReplies:
    """``label`` names the marketplace; ``post(reply, text)`` sends the reply with its text
    as carried (why the marketplace refused it where its answer says so, None: sent);
    ``read_back(thread, since)``: the seller's messages on one of its threads since then."""

    limits: Limits
    declared: Discussions
    label: str
    post: Callable[[Reply, str], Awaitable[str | None]]
    read_back: Callable[[ThreadKey, datetime], Awaitable[list[InboxMessage]]]

    async def reply(self, reply: Reply) -> ReplyOutcome:
        carried = self.declared.carried
        body = carried(reply.body) if carried is not None else reply.body
        if problem := self._unsendable(body, reply):
            return failed_reply(problem)
        try:
            refused = await self.post(reply, body)
        except RequestRefused as exc:
            return failed_reply(str(exc))
        return failed_reply(refused) if refused else ReplyOutcome(status="SENT")

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        if thread.kind not in self.declared.threads:
            return []
        return await self.read_back(thread, since)

    def _unsendable(self, body: str, reply: Reply) -> str | None:
        limits = self.limits
        if not body.strip():
            return "empty reply"
        if len(body) > limits.max_text_length:
            return f"reply longer than {limits.max_text_length} characters"
        if len(reply.attachments) > limits.max_attachments:
            return f"{self.label} takes at most {limits.max_attachments} attachments"
        recipients, threads = self.declared.recipients, self.declared.threads
        if reply.recipient not in recipients or reply.thread.kind not in threads:
            return (
                f"{self.label} has no {reply.recipient} to write to on an "
                f"{reply.thread.kind} thread"
            )
        return None
