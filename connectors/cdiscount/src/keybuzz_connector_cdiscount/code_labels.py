"""A table a shop's session reads once, when first needed: a marketplace's labels of its
own codes (a topic's words beside its code). The messages never wait on it: while the
marketplace cannot give it (refused, unavailable, off its shape), the table is empty, the
codes are shown as they are, said in the log, and it is asked again at the next need."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from keybuzz_shared.connectors.seam import ConnectorError

log = logging.getLogger(__name__)


class ReadOnce:
    """``read``: the table's one reading (ConnectorError or ValueError when it cannot be
    read); ``what``: the table as the log names it."""

    def __init__(self, read: Callable[[], Awaitable[dict[str, str]]], what: str) -> None:
        self._read = read
        self._what = what
        self._table: dict[str, str] | None = None

    async def __call__(self) -> dict[str, str]:
        if self._table is None:
            try:
                self._table = await self._read()
            except (ConnectorError, ValueError) as exc:
                log.warning("%s unread: codes shown", self._what, extra={"reason": str(exc)})
                return {}
        return self._table
