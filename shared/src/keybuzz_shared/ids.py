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


# Version 4 (random) with the RFC 4122 variant: these bits cleared, then set, as uuid.uuid4 does.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def uuid4_strings(count: int) -> list[str]:
    """``count`` random version-4 UUIDs as ``str(uuid.uuid4())`` writes them, from one
    ``os.urandom`` read: a batch of mail needs four a mail, and ``uuid.uuid4`` costs a
    system call and a ``UUID`` object each (about 3x the time)."""
    raw = os.urandom(16 * count)
    ids = []
    for start in range(0, 16 * count, 16):
        h = "%032x" % (int.from_bytes(raw[start : start + 16]) & _UUID4_CLEAR | _UUID4_SET)
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids
