"""Wire names fixed before connectors were general, which stay for the clients that read
them. Every other marketplace value is its connector package's (``registry.marketplaces()``
lists them): this is the one file outside the connector packages that names a marketplace."""

from __future__ import annotations

# Events published before they carried ``marketplace`` were all Amazon's; a message
# without the field still means that.
UNLABELLED_EVENT_MARKETPLACE = "AMAZON"

# The orders API's JSON name of an order's state in its marketplace's own word
# (``OrderView``; clients read it under this name).
ORDER_MARKETPLACE_STATUS_FIELD = "amazonStatus"
