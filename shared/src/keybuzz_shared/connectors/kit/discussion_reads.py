"""What a connector reads of a discussion the marketplace gives with its messages and the
parties a reply may go to (its eligible receivers, its authorised participants): the
discussion whole, as listed when the listing gave every message, else read again
(``whole_when``); and whom a reply goes to (``offered_parties``): each of the seam's
recipients is some kinds of party, and a reply goes to the parties of those kinds the
discussion offers, only where it offers every kind (a reply to ALL needs the buyer and
the marketplace's customer care both offered)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from keybuzz_shared.connectors.seam import Recipient

T = TypeVar("T")  # a discussion
P = TypeVar("P")  # a party a reply may go to


def whole_when(
    complete: Callable[[T], bool], read: Callable[[T], Awaitable[T]]
) -> Callable[[T], Awaitable[T]]:
    """A listed discussion as it came where it is ``complete`` (every message listed),
    else ``read`` again (the kit's inboxes' ``whole``)."""

    async def whole(discussion: T) -> T:
        return discussion if complete(discussion) else await read(discussion)

    return whole


def offered_parties(
    kinds: Mapping[Recipient, tuple[str, ...]],
    recipient: Recipient,
    offered: Sequence[P],
    kind: Callable[[P], str],
) -> list[P] | None:
    """The parties of ``offered`` a reply to ``recipient`` goes to (``kinds``: the kinds of
    party each recipient is; ``kind``: a party's); None where ``recipient`` is no kind of
    party or the discussion does not offer each of its kinds."""
    wanted = kinds.get(recipient, ())
    chosen = [party for party in offered if kind(party) in wanted]
    if not wanted or {kind(party) for party in chosen} != set(wanted):
        return None
    return chosen
