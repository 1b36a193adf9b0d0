"""A listing paged by ``limit`` and ``offset`` as many JSON APIs answer it: a page's items
under a key of its own (a page with none may leave the key out), and ``next`` naming the
following page when there is one; every page read in turn, up to a bound where the
marketplace's listing may be long and only its first pages are wanted. An answer whose
items are no list is the marketplace's unreadable answer, naming the call."""

from __future__ import annotations

from typing import Any

from keybuzz_shared.connectors.kit.requester import Requester


def keyed_page(client: Requester, call: str, body: Any, key: str) -> tuple[list[Any], bool]:
    """A page's items under ``key`` (``body``, the answer to ``client``'s ``call``), and
    whether the marketplace says a next page follows."""
    if not isinstance(body, dict) or not isinstance(body.get(key, []), list):
        raise client.errors.unreadable(call, f"no list of {key}")
    return list(body.get(key, [])), bool(body.get("next"))


async def every_offset_page(
    client: Requester,
    path: str,
    query: dict[str, str],
    *,
    call: str,
    key: str,
    size: int,
    most: int = 0,
) -> list[Any]:
    """The items of every page of ``path`` asked with ``query`` (``most`` pages at most, 0:
    no bound), ``size`` items a page."""
    found: list[Any] = []
    offset, more = 0, True
    while more and (not most or offset < most * size):
        paged = {**query, "limit": str(size), "offset": str(offset)}
        body = await client.get_json(path, paged, operation=call)
        raw, more = keyed_page(client, call, body, key)
        found, offset = found + raw, offset + size
    return found
