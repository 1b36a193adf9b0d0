"""What a marketplace's order ids look like (used by orders)."""

from __future__ import annotations

from typing import Protocol


class OrderIds(Protocol):
    """A marketplace's order ids: a value checked, ids found in free text."""

    @property
    def described(self) -> str:
        """The format, for an error message ("an X order id (…)"); connectors sharing a
        format share the words."""
        ...

    def is_order_id(self, value: str) -> bool: ...

    def order_ids_in(self, text: str) -> list[str]:
        """Every order id written in ``text``, in order of appearance."""
        ...
