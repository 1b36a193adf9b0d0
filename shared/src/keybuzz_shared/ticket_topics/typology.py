"""A marketplace's own typology value read as the shared subjects, where a connector has no
table for it: an operator's reason code (``PRODUCT_DAMAGED``), a topic's label ("Suivi de
commande"), a code in camelCase (``wrongProductReceived``)."""

from __future__ import annotations

import re
from typing import Final

from keybuzz_shared.ticket_topics.subject_rules import subject_of
from keybuzz_shared.ticket_topics.taxonomy import Subject

_CAMEL: Final = re.compile(r"(?<=[a-z])(?=[A-Z])")
MAX_LABEL: Final = 200  # a label is a few words; past this it is not one


def subject_of_label(label: str | None) -> Subject | None:
    """The subject a typology value names, by the subject rules on its words; None when
    they recognise none (the buyer's words decide then)."""
    if not label or len(label) > MAX_LABEL:
        return None
    words = _CAMEL.sub(" ", label).replace("_", " ").replace("-", " ").lower()
    found = subject_of(words)
    return None if found == "OTHER" else found
