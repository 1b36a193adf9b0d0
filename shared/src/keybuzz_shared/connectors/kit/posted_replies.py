"""The reply channel of a shop API whose replies go in a discussion, declared rather than
written: the call that posts a reply (with the marketplace's rules it can only check on
the discussion as it stands, read there), and how a discussion is read back, by its id
then through its inbox's mapping (``Mapper``, made as the inbox makes it). The kit's
``DiscussionReplies`` does the rest: a reply anywhere but a discussion, or one the
marketplace would refuse from the reply alone (``unsendable``), FAILED without a call; a
refusal FAILED with the marketplace's words; the read-back from a little before the
reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from keybuzz_shared.connectors.kit.listed_threads import Mapper
from keybuzz_shared.connectors.kit.replies import DiscussionReplies
from keybuzz_shared.connectors.seam import InboxMessage, Reply

T = TypeVar("T")  # a discussion as the marketplace gives it


def _sendable(reply: Reply) -> str | None:
    return None


class PostedReplies(DiscussionReplies, Generic[T]):
    """``post``: sends a reply, or says why the marketplace's rules keep it unsent
    (CallRefused when the marketplace refused it); ``read``: one discussion by its id
    (CallRefused 404 when unknown); ``mapper``: its messages as the inbox maps them;
    ``unsendable``: why the marketplace would refuse a reply, read from it alone;
    ``label`` and ``discussion``: the marketplace and its word for a discussion."""

    def __init__(
        self,
        label: str,
        post: Callable[[Reply], Awaitable[str | None]],
        read: Callable[[str], Awaitable[T]],
        mapper: Mapper[T],
        *,
        unsendable: Callable[[Reply], str | None] = _sendable,
        discussion: str = "discussion",
    ) -> None:
        self.label = label
        self.discussion = discussion
        self._post = post
        self._read = read
        self._mapper = mapper
        self._unsendable = unsendable

    def unsendable(self, reply: Reply) -> str | None:
        return self._unsendable(reply)

    async def send(self, reply: Reply) -> str | None:
        return await self._post(reply)

    async def listed(self, discussion_id: str) -> list[InboxMessage]:
        discussion = await self._read(discussion_id)
        return list((await self._mapper())(discussion))
