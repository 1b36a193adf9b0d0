"""Replies on a discussion the marketplace is asked for before each reply (whom a reply
may go to, whether it is open) and read back the same way: one read of the discussion by
its id serves the post, which sends on the discussion as it is now or says why it keeps
the reply unsent, and the read-back, the discussion's messages as the inbox maps them.
The rest is ``DeclaredReplies``' (checks before any call, refusals, a 404 listing none)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from keybuzz_shared.connectors.kit.declared_replies import DeclaredReplies
from keybuzz_shared.connectors.seam import InboxMessage, Limits, Reply

T = TypeVar("T")  # a discussion as read


def read_first(
    label: str,
    discussion: str,
    *,
    read: Callable[[str], Awaitable[T]],
    send: Callable[[T, Reply], Awaitable[str | None]],
    messages: Callable[[T], Awaitable[Sequence[InboxMessage]]],
    refused: Callable[[Reply], str | None] | None = None,
    limits: Limits | None = None,
) -> DeclaredReplies:
    """Replies on ``label``'s discussions: ``read`` one by its id, ``send`` a reply on it
    (a text: why it was not sent), ``messages`` its messages as the inbox maps them;
    ``refused``, ``limits``: as ``DeclaredReplies`` takes them."""

    async def post(reply: Reply) -> str | None:
        return await send(await read(reply.thread.id), reply)

    async def listed(discussion_id: str) -> Sequence[InboxMessage]:
        return await messages(await read(discussion_id))

    return DeclaredReplies(
        label, discussion, post=post, listed=listed, refused=refused, limits=limits
    )
