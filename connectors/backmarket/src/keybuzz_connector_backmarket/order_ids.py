"""Back Market's order ids: whole numbers (``order_id``, an integer [official]; eight
digits in the seller back office [observed]). Taken for one from 7 to 12 digits, as in
free text: a shorter number is a quantity, a price, a postcode or another marketplace's
reference (an order's six-digit ``#ref``) far more often, and would turn those searches
into order-id lookups."""

from __future__ import annotations

import re

_ORDER_ID = re.compile(r"[1-9][0-9]{6,11}")
# In free text, such a number standing alone.
_ORDER_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z.,])[1-9][0-9]{6,11}(?![0-9A-Za-z])")


class BackMarketOrderIds:
    described = "a Back Market one (a whole number)"

    def is_order_id(self, value: str) -> bool:
        return _ORDER_ID.fullmatch(value) is not None

    def order_ids_in(self, text: str) -> list[str]:
        return _ORDER_ID_IN_TEXT.findall(text)
