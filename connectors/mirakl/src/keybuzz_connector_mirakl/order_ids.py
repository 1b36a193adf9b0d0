"""Mirakl's order ids: the operator's commercial id and a capital letter per shop of the
cart, e.g. ``Order_00010-A`` [official, OR11's example] or ``BOU2345000012-A``. The
commercial id's form is each operator's: letters, digits and underscores, with a digit
(so that a hyphenated word of a message, "Saint-Denis", is no order id)."""

from __future__ import annotations

import re

_ORDER_ID = re.compile(r"[0-9A-Za-z_]*[0-9][0-9A-Za-z_]*-[A-Z]")
_ORDER_ID_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z_-])[0-9A-Za-z_]*[0-9][0-9A-Za-z_]*-[A-Z](?![0-9A-Za-z_-])"
)


class MiraklOrderIds:
    described = "a Mirakl one (the commercial id, a hyphen and a capital letter: 1234567-A)"

    def is_order_id(self, value: str) -> bool:
        return _ORDER_ID.fullmatch(value) is not None

    def order_ids_in(self, text: str) -> list[str]:
        return _ORDER_ID_IN_TEXT.findall(text)
