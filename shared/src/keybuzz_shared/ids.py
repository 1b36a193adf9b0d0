"""Identifiers and names every service agrees on, defined once.

The patterns are used both by msgspec (events, HTTP bodies) and by plain code
(headers, path parameters), so they must mean the same thing to both. msgspec
checks a ``pattern`` with ``re.search``, and Python's ``$`` also matches just
before a trailing newline: ``"abc\\n"`` would pass ``^[a-z]+$``. ``$(?!\\n)``
closes that gap without ``\\Z``, which the OpenAPI (ECMA-262) readers of the
same pattern do not understand.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

# End of the string, and not "before a final newline" (see above).
_END = r"$(?!\n)"

TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}" + _END
COUNTRY_CODE_PATTERN = r"^[A-Za-z]{2}" + _END

TenantId = Annotated[str, msgspec.Meta(pattern=TENANT_ID_PATTERN)]
CountryCode = Annotated[str, msgspec.Meta(pattern=COUNTRY_CODE_PATTERN)]

_TENANT_ID = re.compile(TENANT_ID_PATTERN)

# An Amazon order id, 3-7-7 digits (``405-1234567-1234567``). In free text (a mail's
# subject or body) it stands between non-digits: ``1405-…`` or ``…-12345678`` is not one.
AMAZON_ORDER_ID_PATTERN = r"^\d{3}-\d{7}-\d{7}" + _END
_AMAZON_ORDER_ID_IN_TEXT = re.compile(r"(?<!\d)\d{3}-\d{7}-\d{7}(?!\d)")
_AMAZON_ORDER_ID = re.compile(AMAZON_ORDER_ID_PATTERN)
AmazonOrderId = Annotated[str, msgspec.Meta(pattern=AMAZON_ORDER_ID_PATTERN)]

# The marketplaces we integrate (``marketplace`` in events and tables).
AMAZON = "AMAZON"


def is_tenant_id(value: str) -> bool:
    """Exactly what a ``TenantId`` field accepts (same pattern, same ``search``)."""
    return _TENANT_ID.search(value) is not None


def is_amazon_order_id(value: str) -> bool:
    """The whole value is one Amazon order id (what an ``AmazonOrderId`` field accepts)."""
    return _AMAZON_ORDER_ID.search(value) is not None


def amazon_order_ids_in(text: str) -> list[str]:
    """Every Amazon order id written in free text, in order of appearance."""
    return _AMAZON_ORDER_ID_IN_TEXT.findall(text)
