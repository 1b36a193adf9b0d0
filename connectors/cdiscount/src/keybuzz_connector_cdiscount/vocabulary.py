"""A marketplace's words (its order statuses) in KeyBuzz's terms, declared as a table: a
word is matched whatever its case or separators ("WaitingAcceptance",
"WAITING_ACCEPTANCE", "waiting-acceptance") or as a spelling seen of another
("Canceled"); one the table lacks (a word the marketplace may add later) is ``unknown``:
shown, never lost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

V = TypeVar("V")


def _key(word: str) -> str:
    return "".join(c for c in word.lower() if c.isalnum())


class Vocabulary(Generic[V]):
    """``table``: each word as the marketplace documents it → ours; ``variants``: other
    spellings seen → the documented word."""

    def __init__(
        self, table: Mapping[str, V], unknown: V, *, variants: Mapping[str, str] | None = None
    ) -> None:
        self.table = table
        self.unknown = unknown
        spelled = {_key(seen): word for seen, word in (variants or {}).items()}
        self._by_key = {_key(word): word for word in table} | spelled

    def canonical(self, word: str) -> str | None:
        """The table's spelling of ``word``; None for one it lacks."""
        return self._by_key.get(_key(word))

    def of(self, word: str) -> V:
        """Ours for ``word``."""
        known = self.canonical(word)
        return self.table[known] if known is not None else self.unknown
