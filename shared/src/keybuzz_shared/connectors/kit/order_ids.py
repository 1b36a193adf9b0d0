"""A marketplace's order ids from their pattern: the seam's ``OrderIds`` declared, not
written (an id whole for a lookup, and the ids a buyer's free text holds)."""

from __future__ import annotations

import re
from collections.abc import Callable


class OrderIdPattern:
    """``pattern`` matches one id whole. In free text an id stands alone: none of
    ``joined`` (a character class's inside) right before or after it, nor of ``before``
    right before it; ``keep`` leaves out a match that is no id (a word of letters)."""

    def __init__(
        self,
        pattern: str,
        described: str,
        *,
        joined: str = "0-9A-Za-z",
        before: str = "",
        keep: Callable[[str], bool] | None = None,
    ) -> None:
        self.described = described
        self._whole = re.compile(pattern)
        self._in_text = re.compile(f"(?<![{joined}{before}])(?:{pattern})(?![{joined}])")
        self._keep = keep

    def is_order_id(self, value: str) -> bool:
        return self._whole.fullmatch(value) is not None

    def order_ids_in(self, text: str) -> list[str]:
        found: list[str] = self._in_text.findall(text)
        return [w for w in found if self._keep(w)] if self._keep else found
