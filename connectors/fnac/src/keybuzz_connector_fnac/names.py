"""The ``marketplace`` values this connector serves (events, tables, routes): one seller
API, two marketplaces."""

FNAC = "FNAC"
DARTY = "DARTY"
