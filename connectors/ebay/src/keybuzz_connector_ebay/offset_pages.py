"""A listing paged by ``limit`` and ``offset`` as many JSON APIs answer it, declared
(``OffsetPages``): a page's items under a key of its own (a page with none may leave the
key out), and ``next`` naming the following page when there is one. The kit's listing runs
it (its ``Seek`` by links, each link the next page's offset): read whole, up to a bound
where only its first pages are wanted, or windowed (``fetch``). An answer whose items are
no list is the marketplace's unreadable answer, naming the call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from keybuzz_shared.connectors.kit import Listing, Requester

# A listing read whole asks no window: its query is the caller's alone.
NO_WINDOW = datetime.min.replace(tzinfo=UTC)


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
        return raw, Listing.follows(self.call, raw, bool(body.get("next")))

    async def every(
        self, client: Requester, path: str, query: dict[str, str], *, most: int | None = None
    ) -> list[Any]:
        """The items of every page of ``path`` asked with ``query`` (``most`` pages at
        most, else the kit's ``MAX_PAGES``); a page repeating the one before ends it."""
        listing = Listing(Listing.Seek[Any](), lambda _low, _high: query, self.fetch(client, path),
                          name=self.call)  # fmt: skip
        start = listing.start(NO_WINDOW, None, updated=True)
        return list((await listing.every(start, lambda raw: (tuple(raw), ()), most=most)).items)

    def fetch(self, client: Requester, path: str) -> Listing.Fetch[str | None]:
        """The ``Fetch`` of this listing at ``path`` for the kit's ``Seek`` by links: each
        page asked with the window's query, its link the page's offset (none: the first),
        and the next page's offset its next link while the marketplace says one follows."""

        async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
            offset = int(link or "0")
            paged = {**query, "limit": str(self.size), "offset": str(offset)}
            raw, more = self.page(client, await client.get_json(path, paged, operation=self.call))
            return raw, str(offset + self.size) if more else None

        return fetch
