"""A shop API whose marketplace takes a reply only while its thread's state allows it: the
reply is refused with the marketplace's reason before it is queued, never sent to fail."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import msgspec

from keybuzz_shared.connectors.seam.messages import Reply, ThreadDetail


class ThreadStanding(msgspec.Struct, frozen=True, kw_only=True):
    """A ticket's thread as its marketplace last listed it: its details and claim flag
    (``InboxMessage.thread_details`` and ``claim``, as the poller keeps them)."""

    details: tuple[ThreadDetail, ...] = ()
    claim: bool = False

    def detail(self, name: str) -> str | None:
        """The value of the detail called ``name``; None when the listing gave none."""
        return next((d.value for d in self.details if d.name == name), None)


@runtime_checkable
class ReplyGate(Protocol):
    """A ``ShopApi`` whose marketplace allows a reply to a recipient only in some states of
    its thread (a claim open, too long since the order): asked before the reply is queued."""

    def reply_refusal(self, reply: Reply, standing: ThreadStanding, now: datetime) -> str | None:
        """Why the marketplace would refuse ``reply`` on a thread standing so at ``now``, in
        words an agent reads; None when it may go."""
        ...
