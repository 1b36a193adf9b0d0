"""Kaufland's answers: what was asked in ``data`` and, for a listing, how many items it
holds in ``pagination.total``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from keybuzz_shared.connectors.kit import Requester, read_as


class InData:
    """Answers that carry what was asked in ``data`` and, for a listing, how many items it
    holds in ``pagination.total`` (an offset listing's end); a page without both is the
    requester's unreadable answer, never an empty one."""

    @staticmethod
    async def item(
        client: Requester,
        path: str,
        params: dict[str, str] | None = None,
        *,
        operation: str = "",
        kind: Any = None,  # a type: a Struct, list[str]
        call: str = "",
    ) -> Any:
        """``GET <path>``'s ``data`` (None without one: the item's reader says why), read
        as a ``kind`` when given: one off its shape is the requester's unreadable answer
        for ``call`` (the path without its id: "GET tickets/{id}")."""
        body = await client.get_json(path, params, operation=operation)
        data = body.get("data") if isinstance(body, dict) else None
        try:
            return (
                data
                if kind is None
                else read_as(kind, data, getattr(kind, "__name__", "item").lower())
            )
        except ValueError as exc:
            raise client.errors.unreadable(call or f"GET {path}", str(exc)) from None

    @staticmethod
    def pages(
        client: Requester, path: str, operation: str = ""
    ) -> Callable[[dict[str, str], str | None], Awaitable[tuple[list[Any], int]]]:
        """A listing's fetch of ``GET <path>``: a page's items and the listing's total."""

        async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], int]:
            body = await client.get_json(path, query, operation=operation)
            data = body.get("data") if isinstance(body, dict) else None
            paging = body.get("pagination") if isinstance(body, dict) else None
            total = paging.get("total") if isinstance(paging, dict) else None
            if not isinstance(data, list) or not isinstance(total, int):
                raise client.errors.unreadable(f"GET {path}", "no data and pagination total")
            return data, total

        return fetch
