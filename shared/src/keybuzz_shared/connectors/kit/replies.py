"""The reply channel of a shop API whose replies go in a discussion (the seam's
``ReplyChannel``): what every such marketplace does alike around the one call that posts.

A reply anywhere but a discussion, one the marketplace would refuse (``unsendable``) and
one it refused (a ``CallRefused``, the call's own words) are a FAILED outcome; whatever
else the call raises goes up (unavailable: nothing sent; outcome unknown: read the
discussion back before sending again). The read-back lists the seller's messages from a
little before the reply (``sent_since``); a discussion the marketplace has forgotten
lists none."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from keybuzz_shared.connectors.seam import (
    CallRefused,
    InboxMessage,
    Reply,
    ReplyOutcome,
    ThreadKey,
    failed_reply,
    sent_since,
)


class DiscussionReplies(ABC):
    """A connector's replies: ``label`` names the marketplace, ``discussion`` what it
    calls a discussion ("care folder"); it writes ``unsendable``, ``send`` and ``listed``."""

    label = "the marketplace"
    discussion = "discussion"

    def unsendable(self, reply: Reply) -> str | None:
        """Why the marketplace would refuse this reply, read from it alone (None: none)."""
        return None

    @abstractmethod
    async def send(self, reply: Reply) -> str | None:
        """Sends the reply; why it was not sent when the marketplace's rules say so
        before the call (None: sent). CallRefused when the marketplace refused it."""

    @abstractmethod
    async def listed(self, discussion_id: str) -> list[InboxMessage]:
        """The discussion's messages as its inbox lists them; CallRefused (404) when the
        marketplace does not know it."""

    async def reply(self, reply: Reply) -> ReplyOutcome:
        if reply.thread.kind != "DISCUSSION":
            return failed_reply(
                f"{self.label}'s replies go to a {self.discussion}, not to an {reply.thread.kind}"
            )
        if problem := self.unsendable(reply):
            return failed_reply(problem)
        try:
            refused = await self.send(reply)
        except CallRefused as exc:
            return failed_reply(str(exc))
        return failed_reply(refused) if refused else ReplyOutcome(status="SENT")

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        if thread.kind != "DISCUSSION":
            return []
        try:
            messages = await self.listed(thread.id)
        except CallRefused as exc:
            if exc.status == 404:
                return []
            raise
        return sent_since(messages, since)
