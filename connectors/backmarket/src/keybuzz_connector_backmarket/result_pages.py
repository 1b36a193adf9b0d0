"""A listing's page as many JSON APIs answer it: its items under ``results``, and ``next``
naming the following page when there is one (care folders and orders, for one). An
answer without its list of results is the marketplace's unreadable answer, naming the
call. Such a listing asked by page number (``PageNumbers``) has one call, ``results_fetch``."""

from __future__ import annotations

from typing import Any

from keybuzz_shared.connectors.kit import Listing, Requester
from keybuzz_shared.connectors.seam import CallRefused


def results_page(client: Requester, call: str, body: Any) -> tuple[list[Any], bool]:
    """A page's ``results`` (``body``, the answer to ``client``'s ``call``), and whether
    the marketplace says a next page follows (never after a page that listed nothing)."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise client.errors.unreadable(call, "no list of results in the page")
    results: list[Any] = body["results"]
    return results, Listing.follows(call, results, bool(body.get("next")))


def results_fetch(
    client: Requester, path: str, call: str, *, most: int | None = None, shrinks: bool = False
) -> Listing.Fetch[bool]:
    """The ``Fetch`` of a page-numbered listing at ``path``: a page's ``results`` and
    whether ``next`` follows. ``most``: the page's size, a page holding more the
    marketplace's unreadable answer; ``shrinks``: a 404 past the first page is a page past
    the last one (the listing holds fewer items than when ``next`` was said), its end."""

    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], bool]:
        try:
            body = await client.get_json(path, query)
        except CallRefused as exc:
            if not shrinks or exc.status != 404 or query.get("page", "1") == "1":
                raise
            return [], False
        results, more = results_page(client, call, body)
        if most is not None and len(results) > most:
            raise client.errors.unreadable(call, f"{len(results)} items on a page of {most}")
        return results, more

    return fetch
