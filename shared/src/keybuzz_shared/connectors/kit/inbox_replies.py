"""The reply channel of a session whose replies go through its client and read their
discussion back through its inbox: the kit's ``DiscussionReplies`` holding both, so that a
connector writes only its rules, its send and its read-back."""

from __future__ import annotations

from typing import Generic, TypeVar

from keybuzz_shared.connectors.kit.replies import DiscussionReplies

C = TypeVar("C")  # the shop's client
N = TypeVar("N")  # the session's inbox


class InboxReplies(DiscussionReplies, Generic[C, N]):
    """Replies through ``client``, their discussion read from ``inbox``."""

    def __init__(self, client: C, inbox: N) -> None:
        self.client = client
        self.inbox = inbox
