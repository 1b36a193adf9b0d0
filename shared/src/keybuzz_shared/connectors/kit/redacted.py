"""Credentials held in a msgspec Struct shown without their secrets: its repr (a log
line's, a traceback's, a test's failure) names every field, the values of those in
``SECRETS`` masked."""

from __future__ import annotations

from typing import ClassVar

import msgspec


class Redacted(msgspec.Struct, frozen=True):
    """A Struct whose ``SECRETS`` (field names) never appear in its repr."""

    SECRETS: ClassVar[frozenset[str]] = frozenset()

    def __repr__(self) -> str:
        shown = (
            f"{name}=[REDACTED]" if name in self.SECRETS else f"{name}={getattr(self, name)!r}"
            for name in self.__struct_fields__
        )
        return f"{type(self).__name__}({', '.join(shown)})"
