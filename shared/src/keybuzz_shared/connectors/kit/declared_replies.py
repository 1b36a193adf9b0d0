"""A discussion's replies declared (the kit's ``DiscussionReplies``): whom the marketplace
takes a reply to, the files it takes (its ``Limits``, or the connector's own rule) and
what a discussion's id looks like, each checked before any call, as the marketplace would
refuse the reply; the call that posts a reply (saying why the marketplace's rules keep it
unsent, where it reads the discussion first) and the read-back of a discussion's
messages, the connector's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from keybuzz_shared.connectors.kit.replies import DiscussionReplies
from keybuzz_shared.connectors.kit.reply_files import refused_files
from keybuzz_shared.connectors.seam import InboxMessage, Limits, Recipient, Reply


class DeclaredReplies(DiscussionReplies):
    """Replies in ``label``'s discussions (what it calls one: ``discussion``): ``post``
    sends one (a ``CallRefused``: refused; a text: why it was not sent), ``listed`` reads
    a discussion's messages back (404: one it does not know); ``recipients``: whom a reply
    may go to (empty: anyone), ``limits``: its files' (None: not checked), ``is_id``: a
    discussion id's form, ``refused``: what else the marketplace refuses in a reply."""

    def __init__(
        self,
        label: str,
        discussion: str,
        *,
        post: Callable[[Reply], Awaitable[str | None]],
        listed: Callable[[str], Awaitable[Sequence[InboxMessage]]],
        recipients: tuple[Recipient, ...] = (),
        limits: Limits | None = None,
        is_id: Callable[[str], bool] = bool,
        refused: Callable[[Reply], str | None] | None = None,
    ) -> None:
        self.label = label
        self.discussion = discussion
        self._post = post
        self._listed = listed
        self.recipients = recipients
        self.limits = limits
        self.is_id = is_id
        self.refused = refused

    def unsendable(self, reply: Reply) -> str | None:
        if self.recipients and reply.recipient not in self.recipients:
            return f"{self.label}'s replies go to {' or '.join(self.recipients)}, not {reply.recipient}"
        if self.limits is not None and (
            problem := refused_files(self.limits, reply.attachments, self.label)
        ):
            return problem
        if not self.is_id(reply.thread.id):
            return f"{reply.thread.id!r} is not a {self.label} {self.discussion}"
        return self.refused(reply) if self.refused is not None else None

    async def send(self, reply: Reply) -> str | None:
        return await self._post(reply)

    async def listed(self, discussion_id: str) -> list[InboxMessage]:
        return list(await self._listed(discussion_id))
