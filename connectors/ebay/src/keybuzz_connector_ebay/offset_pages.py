"""A listing paged by ``limit`` and ``offset`` as many JSON APIs answer it, declared
(``OffsetPages``): a page's items under a key of its own (a page with none may leave the
key out), and ``next`` naming the following page when there is one; every page read in
turn, up to a bound where the marketplace's listing may be long and only its first pages
are wanted, or as a windowed ``Listing``'s call (``fetch``). An answer whose items are no
list is the marketplace's unreadable answer, naming the call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keybuzz_shared.connectors.kit import Fetch, Requester, follows, past_bound, repeats


@dataclass(frozen=True)
class OffsetPages:
    """``call``: the listing's operation; ``key``: where a page holds its items;
    ``size``: the items a page asks for."""

    call: str
    key: str
    size: int

    def page(self, client: Requester, body: Any) -> tuple[list[Any], bool]:
        """A page's items (``body``, the answer to ``client``'s call), and whether the
        marketplace says a next page follows (never after a page that listed nothing)."""
        if not isinstance(body, dict) or not isinstance(body.get(self.key, []), list):
            raise client.errors.unreadable(self.call, f"no list of {self.key}")
        raw = list(body.get(self.key, []))
        return raw, follows(self.call, raw, bool(body.get("next")))

    async def every(
        self, client: Requester, path: str, query: dict[str, str], *, most: int = 0
    ) -> list[Any]:
        """The items of every page of ``path`` asked with ``query`` (``most`` pages at
        most, 0: the kit's ``MAX_PAGES``); a page repeating the one before ends it."""
        found: list[Any] = []
        offset, more, before = 0, True, None
        while more and not (most and offset >= most * self.size):
            if not most and past_bound(self.call, offset // self.size):
                break
            paged = {**query, "limit": str(self.size), "offset": str(offset)}
            body = await client.get_json(path, paged, operation=self.call)
            raw, more = self.page(client, body)
            if repeats(self.call, raw, before):
                break
            found, offset, before = found + raw, offset + self.size, raw
        return found

    def fetch(self, client: Requester, path: str) -> Fetch[str | None]:
        """The ``Fetch`` of this listing at ``path`` for the kit's ``NextLink``: each page
        asked with the window's query, its link the page's offset (none: the first), and
        the next page's offset its next link while the marketplace says one follows."""

        async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
            offset = int(link or "0")
            paged = {**query, "limit": str(self.size), "offset": str(offset)}
            raw, more = self.page(client, await client.get_json(path, paged, operation=self.call))
            return raw, str(offset + self.size) if more else None

        return fetch
