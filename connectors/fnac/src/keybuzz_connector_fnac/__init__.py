"""Fnac and Darty: one seller API (XML over HTTPS), one declaration serving both
(docs/FNAC.md); ``connectors()`` is the entry point the registry loads (group
``keybuzz.connectors``)."""

from functools import cache

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_fnac.connector import DARTY, FNAC, fnac_connector


# The registry calls this again while services run: the same objects each time.
@cache
def connectors() -> tuple[Connector, ...]:
    return (fnac_connector(FNAC, "Fnac"), fnac_connector(DARTY, "Darty"))
