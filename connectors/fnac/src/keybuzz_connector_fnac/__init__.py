"""The Fnac and Darty connectors (docs/FNAC.md); ``connectors()`` is the registry's entry point."""

from functools import cache

from keybuzz_shared.connectors.seam import Connector

from keybuzz_connector_fnac.connector import DARTY, FNAC, fnac_connector


# The registry calls this again while services run: the same objects each time.
@cache
def connectors() -> tuple[Connector, ...]:
    return (fnac_connector(FNAC, "Fnac"), fnac_connector(DARTY, "Darty"))
