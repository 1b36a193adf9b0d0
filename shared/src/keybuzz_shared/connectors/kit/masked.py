"""A connector's Struct holding a secret (a shop's key, a token) that shows it masked in its
``repr``: a log line, a trace or a test failure printing the Struct never quotes it."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from keybuzz_shared.redaction import REDACTED


class Masked(msgspec.Struct, frozen=True):
    """Its fields named in ``masked`` are shown as ``[REDACTED]``, the others as usual."""

    masked: ClassVar[frozenset[str]] = frozenset()

    def __repr__(self) -> str:
        shown = (
            f"{name}={REDACTED if name in self.masked else repr(getattr(self, name))}"
            for name in self.__struct_fields__
        )
        return f"{type(self).__name__}({', '.join(shown)})"
