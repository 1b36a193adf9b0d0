"""Cdiscount's order numbers: the minute the order was placed (yymmddHHMM) and five
letters, e.g. ``2611230948AAACH`` (the form sellers see; Octopia publishes no format)."""

from __future__ import annotations

import re

_ORDER_ID = re.compile(r"[0-9]{10}[A-Z]{5}")
_ORDER_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[0-9]{10}[A-Z]{5}(?![0-9A-Za-z])")


class CdiscountOrderIds:
    described = "a Cdiscount one (10 digits and 5 capital letters)"

    def is_order_id(self, value: str) -> bool:
        return _ORDER_ID.fullmatch(value) is not None

    def order_ids_in(self, text: str) -> list[str]:
        return _ORDER_ID_IN_TEXT.findall(text)
