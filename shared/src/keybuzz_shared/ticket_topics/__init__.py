"""What a ticket is about and in which language (docs/CONTRACTS.md, "Ticket topics").

``classify`` reads one buyer message (``classify_each`` many, the language and subject models
applied once to them all): the language and subject the marketplace gives win
(source ``marketplace``); else the language is detected on the buyer's own words
(``own_words``: quoted history, signature and boilerplate left out) and the subject decided
on them by a linear model over their n-grams and the subject rules' weights (source
``detected``; ``subject_model``, chosen by measurement: docs/BENCHMARKS.md, "Ticket topics:
the subject classifier chosen by measurement"). ``later`` folds a later message into a
ticket's topics. Pure, and within ~1 ms a message.

The models' modules (numpy, ~0.15 s of CPU to import) are imported on first use of their
names (``__getattr__``): most importers want only the taxonomy (``Subject``: events, the
connectors, the services that never classify).
"""

import importlib
from typing import TYPE_CHECKING

from keybuzz_shared.ticket_topics.subject_rules import subject_of
from keybuzz_shared.ticket_topics.taxonomy import (
    COUNTRY_LANGUAGES,
    RULE_LANGUAGES,
    SOURCES,
    SUBJECTS,
    UNDETERMINED,
    Source,
    Subject,
    Topics,
    language_of_country,
    language_tag,
)
from keybuzz_shared.ticket_topics.typology import subject_of_label

if TYPE_CHECKING:
    from keybuzz_shared.ticket_topics.classify import (
        BuyerMessage,
        classify,
        classify_each,
        later,
    )
    from keybuzz_shared.ticket_topics.language import LanguageGuess, detect_language, warm_up

_ON_FIRST_USE = {
    "BuyerMessage": "classify",
    "classify": "classify",
    "classify_each": "classify",
    "later": "classify",
    "LanguageGuess": "language",
    "detect_language": "language",
    "warm_up": "language",
}

__all__ = [
    "BuyerMessage",
    "COUNTRY_LANGUAGES",
    "RULE_LANGUAGES",
    "SOURCES",
    "SUBJECTS",
    "UNDETERMINED",
    "LanguageGuess",
    "Source",
    "Subject",
    "Topics",
    "classify",
    "classify_each",
    "detect_language",
    "language_of_country",
    "language_tag",
    "later",
    "subject_of",
    "subject_of_label",
    "warm_up",
]


def __getattr__(name: str) -> object:
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_ON_FIRST_USE[name]}")
    # All of its names at once: importing the submodule ``classify`` bound that name here to
    # the module, which the function of the same name must replace.
    for each, where in _ON_FIRST_USE.items():
        if where == _ON_FIRST_USE[name]:
            globals()[each] = getattr(module, each)
    return globals()[name]
