"""An inbox page of a listing by thread, in the seam's terms: each thread the listing read
is made whole (read again where the listing gave only some of its messages), its messages
mapped, and the listing's next state handed out as the page's cursor. A thread whose
messages cannot be mapped (an attachment id naming another path) costs that thread, said
in the page's ``unreadable``, never the page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from keybuzz_shared.connectors.kit.listing import Step
from keybuzz_shared.connectors.seam import InboxMessage, Page, cursor_of

T = TypeVar("T")


async def thread_page(
    step: Step[T, Any],
    whole: Callable[[T], Awaitable[T]],
    messages: Callable[[T], Sequence[InboxMessage]],
    named: Callable[[T], str],
    *,
    complete_until: datetime | None,
) -> Page[InboxMessage]:
    """The page of ``step``: each thread ``whole``, its ``messages``; ``named``, a thread
    as ``unreadable`` names it; ``complete_until``, where a last page leaves the listing
    complete."""
    unreadable = list(step.unreadable)
    found: list[InboxMessage] = []
    for thread in step.items:
        read = await whole(thread)
        try:
            found += messages(read)
        except ValueError as exc:
            unreadable.append(f"{named(thread)}: {exc}")
    following = step.following
    return Page(
        items=tuple(found),
        next_cursor=cursor_of(following) if following else None,
        complete_until=None if following else complete_until,
        unreadable=tuple(unreadable),
    )
