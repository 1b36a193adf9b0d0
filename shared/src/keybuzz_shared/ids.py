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


# The RFC 4122 variant: the top two bits of the 17th hex digit are 10.
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def uuid4_strings(count: int) -> list[str]:
    """``count`` random version-4 UUIDs as ``str(uuid.uuid4())`` writes them, from one
    ``os.urandom`` read in hex: a batch of mail needs four a mail, and ``uuid.uuid4``
    costs a system call and a ``UUID`` object each (about 4x the time). The version
    digit is written as 4 and the variant digit's top bits as 10, as ``uuid4`` sets them."""
    h = os.urandom(16 * count).hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-4{h[i + 13 : i + 16]}-"
        f"{_VARIANT_DIGIT[h[i + 16]]}{h[i + 17 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]
