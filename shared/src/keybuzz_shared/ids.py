"""Identifiers and names every service agrees on, defined once.

The patterns are used both by msgspec (events, HTTP bodies) and by plain code
(headers, path parameters), so they must mean the same thing to both. msgspec
checks a ``pattern`` with ``re.search``, and Python's ``$`` also matches just
before a trailing newline: ``"abc\\n"`` would pass ``^[a-z]+$``. ``$(?!\\n)``
closes that gap without ``\\Z``, which the OpenAPI (ECMA-262) readers of the
same pattern do not understand.
"""

from __future__ import annotations

import os
import re
import time
from typing import Annotated

import msgspec

# End of the string, and not "before a final newline" (see above).
PATTERN_END = r"$(?!\n)"

TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}" + PATTERN_END
COUNTRY_CODE_PATTERN = r"^[A-Za-z]{2}" + PATTERN_END

TenantId = Annotated[str, msgspec.Meta(pattern=TENANT_ID_PATTERN)]
CountryCode = Annotated[str, msgspec.Meta(pattern=COUNTRY_CODE_PATTERN)]

_TENANT_ID = re.compile(TENANT_ID_PATTERN)


def is_tenant_id(value: str) -> bool:
    """Exactly what a ``TenantId`` field accepts (same pattern, same ``search``)."""
    return _TENANT_ID.search(value) is not None


# The RFC 4122 variant: the top two bits of the 17th hex digit are 10.
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_COUNTER_SPAN = 1 << 12  # rand_a's 12 bits


def uuid7_strings(count: int) -> list[str]:
    """``count`` version-7 UUIDs (RFC 9562) in ascending order, as ``str(uuid.UUID)`` writes
    them: the Unix time in milliseconds, then the position in the batch in ``rand_a`` (its
    "dedicated counter" method; past 4,096 the millisecond moves on by one), then 62 random
    bits from one ``os.urandom`` read.

    Rows keyed by them go in at the right end of their indexes, where PostgreSQL's B-tree
    finds the page without a descent, not at a random page each: a mail's four rows cost
    PostgreSQL less (docs/BENCHMARKS.md, tenth session). A batch needs four a mail, and
    ``uuid.UUID`` objects cost about 4x the time."""
    now_ms = time.time_ns() // 1_000_000
    heads: dict[int, str] = {}
    h = os.urandom(8 * count).hex()
    ids = []
    for n, i in enumerate(range(0, 16 * count, 16)):
        step, counter = divmod(n, _COUNTER_SPAN)
        if (head := heads.get(step)) is None:
            stamp = f"{now_ms + step:012x}"
            head = heads[step] = f"{stamp[:8]}-{stamp[8:]}-7"
        ids.append(
            f"{head}{counter:03x}-{_VARIANT_DIGIT[h[i]]}{h[i + 1 : i + 4]}-{h[i + 4 : i + 16]}"
        )
    return ids


def uuid7_string() -> str:
    """One id as ``uuid7_strings`` makes them: rows and events made one at a time."""
    return uuid7_strings(1)[0]
