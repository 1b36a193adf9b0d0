"""Where every listing stops, whatever its paging (offsets, tokens, links, page numbers): a
page that says another follows and lists nothing (an empty page with a ``next``), a page
that names the same next page again or lists the same items again, and a listing read whole
past ``MAX_PAGES``. Followed, each would page on until the call's deadline, every page a
call of the shop's (or the application's) budget; stopped, the listing ends there with what
it read, and the round reports it (``spent_calls.listing_stopped``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keybuzz_shared.spent_calls import listing_stopped

# The pages a listing read whole at once (``every``) reads at most: past it, a listing that
# never ends (pages that each say another follows) is stopped.
MAX_PAGES = 200
EMPTY_WITH_MORE = "a page listed nothing and said another follows"
SAME_NEXT = "a page named the same next page again"
SAME_ITEMS = "a page listed the same items as the page before"


def follows(
    call: str, raw: Sequence[Any], more: bool, shop: Mapping[str, str] | None = None
) -> bool:
    """Whether the page after ``raw`` is asked: ``more`` (the marketplace says one follows),
    unless the page listed nothing (then the listing is stopped, said)."""
    if more and not raw:
        listing_stopped(call, EMPTY_WITH_MORE, shop)
        return False
    return more


def repeats(
    call: str,
    raw: Sequence[Any],
    before: Sequence[Any] | None,
    shop: Mapping[str, str] | None = None,
) -> bool:
    """Whether ``raw`` lists again what the page ``before`` listed (then the listing is
    stopped, said)."""
    if raw and before is not None and list(raw) == list(before):
        listing_stopped(call, SAME_ITEMS, shop)
        return True
    return False


class RepeatedPages:
    """Pages listing the items of the page before, in a row: one is read on (a listing by
    instant, the kit's ``Seek``, asks again from a page's newest instant, and a page all at
    that instant comes back once before it pages by number), the second ends the listing
    (said)."""

    def __init__(self, call: str, shop: Mapping[str, str] | None = None) -> None:
        self._call, self._shop = call, shop
        self._before: tuple[Any, ...] = ()
        self._in_a_row = 0

    def end(self, items: Sequence[Any]) -> bool:
        """Whether the page listing ``items`` ends the listing."""
        listed = tuple(items)
        self._in_a_row = self._in_a_row + 1 if listed and listed == self._before else 0
        self._before = listed
        if self._in_a_row >= 2:
            listing_stopped(self._call, SAME_ITEMS, self._shop)
            return True
        return False


def same_next(call: str, asked: object, following: object) -> bool:
    """Whether the next page named is the one just read (then the listing is stopped)."""
    if following is not None and following == asked:
        listing_stopped(call, SAME_NEXT)
        return True
    return False


def past_bound(call: str, pages: int, most: int = MAX_PAGES) -> bool:
    """Whether a listing read whole has read its ``most`` pages (then it is stopped)."""
    if pages >= most:
        listing_stopped(call, f"{most} pages read: the listing is read no further")
        return True
    return False
