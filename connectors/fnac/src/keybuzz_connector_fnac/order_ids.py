"""Fnac's order ids (Darty's too): common.xsd's order_id_restriction, 13 letters and digits."""

from __future__ import annotations

import re

_ORDER_ID = re.compile(r"[0-9A-Za-z]{13}")
_ORDER_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{13}(?![0-9A-Za-z])")


class FnacOrderIds:
    described = "a Fnac/Darty one (13 letters and digits)"

    def is_order_id(self, value: str) -> bool:
        return _ORDER_ID.fullmatch(value) is not None

    def order_ids_in(self, text: str) -> list[str]:
        """Every 13-character word of letters and digits (holding a digit: not a word)."""
        return [w for w in _ORDER_ID_IN_TEXT.findall(text) if any(c.isdigit() for c in w)]
