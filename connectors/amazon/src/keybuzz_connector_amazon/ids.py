"""Amazon's order ids: 3-7-7 digits (``405-1234567-1234567``)."""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
from keybuzz_shared.ids import PATTERN_END

# In free text (a mail's subject or body) an order id stands between non-digits:
# ``1405-…`` or ``…-12345678`` is not one.
AMAZON_ORDER_ID_PATTERN = r"^\d{3}-\d{7}-\d{7}" + PATTERN_END
_AMAZON_ORDER_ID_IN_TEXT = re.compile(r"(?<!\d)\d{3}-\d{7}-\d{7}(?!\d)")
_AMAZON_ORDER_ID = re.compile(AMAZON_ORDER_ID_PATTERN)
AmazonOrderId = Annotated[str, msgspec.Meta(pattern=AMAZON_ORDER_ID_PATTERN)]


def is_amazon_order_id(value: str) -> bool:
    """The whole value is one Amazon order id (what an ``AmazonOrderId`` field accepts)."""
    return _AMAZON_ORDER_ID.search(value) is not None


def amazon_order_ids_in(text: str) -> list[str]:
    """Every Amazon order id written in free text, in order of appearance."""
    return _AMAZON_ORDER_ID_IN_TEXT.findall(text)
