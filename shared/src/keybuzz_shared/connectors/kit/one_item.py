"""One item of a marketplace's API read by its id (a discussion, a care folder), as every
JSON API's connector reads one: the id as one segment of the item's path, an id that
cannot be one refused as the marketplace refuses an unknown one (404) without a call, and
an answer off the item's shape the marketplace's unreadable answer, naming the call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from keybuzz_shared.connectors.kit.requester import Requester
from keybuzz_shared.connectors.kit.wire import segment

T = TypeVar("T")


async def item_at(
    client: Requester,
    path: str,
    item_id: str,
    read: Callable[[Any], T],
    call: str,
    *,
    valid: Callable[[str], bool] = bool,
    operation: str = "",
    shape: Any = None,
) -> T:
    """The item ``item_id`` names under ``path`` (``<path>/<id>``), read by ``read``
    (ValueError: off its shape); CallRefused (404) for an id that is not ``valid`` or no
    path segment, unasked; CallAnswerUnreadable naming ``call`` for an answer ``read``
    refuses. ``operation`` and ``shape``, where given, are the requester's ``get_json``'s:
    the operation whose frequency and ``Retry-After`` the call obeys, and the answer's
    type (``msgspec.Raw``: its bytes, for ``read`` to decode)."""
    found = segment(item_id) if valid(item_id) else None
    if found is None:
        raise client.errors.refused(call, 404, f"{item_id!r} is not an id")
    given = {"operation": operation, "shape": shape}
    answer = await client.get_json(f"{path}/{found}", **{k: v for k, v in given.items() if v})
    try:
        return read(answer)
    except ValueError as exc:
        raise client.errors.unreadable(call, str(exc)) from None


def path_under(path: str) -> Callable[[str], str | None]:
    """An item's path under ``path`` by its id (``<path>/<id>``, an order's for
    ``EachById``); None for an id that cannot be one path segment, not asked."""

    def item_path(item_id: str) -> str | None:
        found = segment(item_id)
        return f"{path}/{found}" if found is not None else None

    return item_path
