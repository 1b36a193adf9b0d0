"""The ``marketplace`` values (events, tables, routes): part of the registry, the one place
outside the connector packages where a marketplace is named."""

from __future__ import annotations

AMAZON = "AMAZON"
FNAC = "FNAC"
DARTY = "DARTY"

# Every value a ``marketplace`` column or event field may hold.
MARKETPLACES: tuple[str, ...] = (AMAZON, FNAC, DARTY)

# Events published before they carried ``marketplace`` were all Amazon's; a message
# without the field still means that.
UNLABELLED_EVENT_MARKETPLACE = AMAZON

# The orders API's JSON name of an order's state in its marketplace's own word
# (``OrderView``; clients read it under this name).
ORDER_MARKETPLACE_STATUS_FIELD = "amazonStatus"
