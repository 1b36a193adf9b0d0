"""The Mirakl operators this connector serves, as the kit's catalogue (docs/MIRAKL.md, "The
catalogue")."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from keybuzz_shared.connectors.kit import Catalogue

# A marketplace value: upper case, digits and underscores, as the seeded codes are.
CODE_PATTERN = "^[A-Z][A-Z0-9_]{1,39}$"
# Mirakl's operation codes a frequency may be given for (seconds between two calls).
Operation = Literal["M11", "OR11", "A21"]
# Mirakl's own [official]: OR11 once a minute at most, A21 once a day (M11's "at each page
# display" gives none: the settings' interval is its).
FREQUENCIES: dict[Operation, float] = {"OR11": 60.0, "A21": 86_400.0}


class Operator(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """One operator's instance of Mirakl's seller API (docs/MIRAKL.md, "The catalogue")."""

    code: Annotated[str, msgspec.Meta(pattern=CODE_PATTERN)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    base_url: str
    response_hours: Annotated[float, msgspec.Meta(gt=0, le=24 * 30)]
    frequencies: dict[Operation, Annotated[float, msgspec.Meta(gt=0)]] = {}
    source: str = "assumed"  # where base_url comes from (docs/MIRAKL.md, "The catalogue")

    def every(self, operation: Literal["OR11", "A21"]) -> float:
        """Seconds between two calls of ``operation``: the operator's frequency, else Mirakl's."""
        return self.frequencies.get(operation, FREQUENCIES[operation])


CATALOGUE = Catalogue(
    Operator,
    "keybuzz_connector_mirakl",
    "catalogue.json",
    inline="MIRAKL_CATALOGUE",
    file="MIRAKL_CATALOGUE_FILE",
    label="Mirakl",
    noun="operators",
)
