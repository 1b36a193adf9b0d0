"""The reply channel (the seam's ``ReplyChannel``) of a shop API, declared: what every
marketplace does alike around the one call that posts a reply and the one listing that
reads it back; each connector fills in what its marketplace is.

A reply's text is sent as the marketplace's messages carry it (``carried``). One on a
thread of a kind the marketplace has not (``threads``: its discussions, or an order's and
an offer's threads), to someone it takes none from (``recipients``), empty, longer than
its ``Limits`` or with files they refuse, on an id not of its form (``is_id``), or that
its own rule refuses (``refused``) is a FAILED outcome without a call; so is one it refused
(a ``RequestRefused``: its own words, or the reason ``post`` gives, where the marketplace's
rules keep it unsent). Whatever else the call raises goes up (unavailable: nothing sent;
outcome unknown: read the thread back before sending again).

The read-back is ``listed``, a discussion's messages (one the marketplace has forgotten,
a 404, lists none), of which the seller's from a little before the reply (``sent_since``,
earlier by ``dated_to`` where the marketplace's dates are coarser); or, where the
marketplace lists by date, ``read_back``, the seller's messages on the thread since then.
A thread of a kind the marketplace has not holds no message sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta

import msgspec

from keybuzz_shared.connectors.kit.connector import Discussions
from keybuzz_shared.connectors.kit.reply_files import refused_files
from keybuzz_shared.connectors.seam import (
    CallRefused,
    InboxMessage,
    Limits,
    Recipient,
    Reply,
    ReplyOutcome,
    RequestRefused,
    ThreadKey,
    failed_reply,
    sent_since,
)


@dataclass(frozen=True)
class DeclaredReplies:
    """Replies on ``label``'s threads (what it calls one: ``discussion``): ``post`` sends
    one, its text as carried (a ``RequestRefused``: refused; a text: why it was not sent);
    ``listed`` reads a discussion's messages back (404: one it does not know), or
    ``read_back`` the seller's on a thread since a moment; ``threads``: the kinds of thread
    a reply goes on, ``recipients``: whom it may go to (empty: anyone), ``limits``: its
    text's and files' (None: not checked), ``is_id``: a thread id's form, ``refused``: what
    else the marketplace refuses in a reply, ``carried``: a reply's text as its messages
    carry it (None: as written), ``dated_to``: how coarse the dates it lists are."""

    label: str
    discussion: str
    _: KW_ONLY
    post: Callable[[Reply], Awaitable[str | None]]
    listed: Callable[[str], Awaitable[Sequence[InboxMessage]]] | None = None
    read_back: Callable[[ThreadKey, datetime], Awaitable[Sequence[InboxMessage]]] | None = None
    threads: frozenset[str] = frozenset({"DISCUSSION"})
    recipients: tuple[Recipient, ...] = ()
    limits: Limits | None = None
    is_id: Callable[[str], bool] = bool
    refused: Callable[[Reply], str | None] | None = None
    carried: Callable[[str], str] | None = None
    dated_to: timedelta = timedelta(0)

    @classmethod
    def on_threads(
        cls,
        declared: Discussions,
        label: str,
        discussion: str,
        limits: Limits,
        post: Callable[[Reply], Awaitable[str | None]],
        read_back: Callable[[ThreadKey, datetime], Awaitable[Sequence[InboxMessage]]],
    ) -> DeclaredReplies:
        """Replies on the threads ``declared`` names, to its recipients, their text as its
        messages carry it, read back by date."""
        return cls(
            label,
            discussion,
            post=post,
            read_back=read_back,
            threads=declared.threads,
            recipients=declared.recipients,
            limits=limits,
            carried=declared.carried,
        )

    def __post_init__(self) -> None:
        if (self.listed is None) == (self.read_back is None):
            raise TypeError(f"{self.label}'s replies are read back by listed or read_back")

    async def reply(self, reply: Reply) -> ReplyOutcome:
        if self.carried is not None:
            reply = msgspec.structs.replace(reply, body=self.carried(reply.body))
        if problem := self.unsendable(reply):
            return failed_reply(problem)
        try:
            refused = await self.post(reply)
        except RequestRefused as exc:
            return failed_reply(str(exc))
        return failed_reply(refused) if refused else ReplyOutcome(status="SENT")

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        if thread.kind not in self.threads:
            return []
        if self.read_back is not None:
            return list(await self.read_back(thread, since))
        assert self.listed is not None  # one of the two, checked when declared
        try:
            messages = await self.listed(thread.id)
        except CallRefused as exc:
            if exc.status == 404:
                return []
            raise
        return sent_since(messages, since - self.dated_to)

    def unsendable(self, reply: Reply) -> str | None:
        """Why the marketplace would refuse this reply, read from it alone (None: none)."""
        if reply.thread.kind not in self.threads:
            return (
                f"{self.label}'s replies go to a {self.discussion}, not to an {reply.thread.kind}"
            )
        if self.recipients and reply.recipient not in self.recipients:
            return f"{self.label}'s replies go to {' or '.join(self.recipients)}, not {reply.recipient}"
        if self.limits is not None and (problem := self._beyond(self.limits, reply)):
            return problem
        if not self.is_id(reply.thread.id):
            return f"{reply.thread.id!r} is not a {self.label} {self.discussion}"
        return self.refused(reply) if self.refused is not None else None

    def _beyond(self, limits: Limits, reply: Reply) -> str | None:
        if not reply.body.strip():
            return "empty reply"
        if len(reply.body) > limits.max_text_length:
            return f"reply longer than {limits.max_text_length} characters"
        return refused_files(limits, reply.attachments, self.label)
