"""The Mirakl operators this connector serves, as the kit's catalogue (``kit.Catalogue``:
data, not code; docs/MIRAKL.md, "The catalogue"): the packaged ``catalogue.json``,
``MIRAKL_CATALOGUE`` (an inline JSON list: the dev stack's operators on the sandbox's
double) and ``MIRAKL_CATALOGUE_FILE`` (a file read at every call: an operator added to
running services without a release)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from keybuzz_shared.connectors.kit import Catalogue

CATALOGUE_ENV = "MIRAKL_CATALOGUE"
CATALOGUE_FILE_ENV = "MIRAKL_CATALOGUE_FILE"
# A marketplace value: upper case, digits and underscores, as the seeded codes are.
CODE_PATTERN = "^[A-Z][A-Z0-9_]{1,39}$"
# Mirakl's operation codes a frequency may be given for (seconds between two calls).
OPERATIONS = ("M11", "OR11", "A21")


class Operator(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """One operator's instance of Mirakl's seller API: its marketplace value (``code``),
    its name as sellers read it, its production base URL (calls go to
    ``<base_url>/api/...``), how many hours it gives a shop to answer a customer, and the
    frequencies it sets for calls of its own (seconds between two first pages)."""

    code: Annotated[str, msgspec.Meta(pattern=CODE_PATTERN)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    base_url: str
    response_hours: Annotated[float, msgspec.Meta(gt=0, le=24 * 30)]
    frequencies: dict[str, Annotated[float, msgspec.Meta(gt=0)]] = {}
    # Where base_url comes from: "official" (the operator publishes it), "observed"
    # (independent integrations use it), "assumed" (Mirakl's usual naming, unconfirmed).
    source: str = "assumed"

    def __post_init__(self) -> None:
        if unknown := sorted(set(self.frequencies) - set(OPERATIONS)):
            raise ValueError(f"{self.code}: frequencies of {', '.join(unknown)} are not read")


CATALOGUE = Catalogue(
    Operator,
    "keybuzz_connector_mirakl",
    "catalogue.json",
    inline=CATALOGUE_ENV,
    file=CATALOGUE_FILE_ENV,
    label="Mirakl",
    noun="operators",
)
# The catalogue's readings by the names the settings, the k8s check and the tests call.
parse, packaged = CATALOGUE.parse, CATALOGUE.packaged
operators, operator = CATALOGUE.entries, CATALOGUE.entry
