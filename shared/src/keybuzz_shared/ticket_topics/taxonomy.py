"""What a ticket is about and in which language: the shared taxonomy (docs/CONTRACTS.md,
"Ticket topics"), the values every connector maps its marketplace's own typology to."""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

import msgspec

Subject = Literal[
    "WHERE_IS_MY_ORDER",
    "RETURN_OR_REFUND",
    "DAMAGED_OR_WRONG_ITEM",
    "CANCELLATION",
    "INVOICE_REQUEST",
    "PRODUCT_QUESTION",
    "ORDER_CHANGE",
    "OTHER",
]
SUBJECTS: Final[tuple[Subject, ...]] = get_args(Subject)
# Where a ticket's language or subject came from: the marketplace's own data (its site,
# its folder's language, its typology), or read from the buyer's own words.
Source = Literal["marketplace", "detected"]
SOURCES: Final[tuple[Source, ...]] = get_args(Source)
UNDETERMINED: Final = "und"  # BCP 47's "undetermined": too little text to tell

# The languages the subject rules read and the labeled set measures (BENCHMARKS.md).
RULE_LANGUAGES: Final = ("fr", "en", "de", "es", "it", "nl", "pt", "pl")

# A country's language where the country has one (ISO 3166 → BCP 47): the language of a
# marketplace's site for that country. Belgium, Switzerland, Luxembourg have several: none.
COUNTRY_LANGUAGES: Final[dict[str, str]] = {
    "FR": "fr",
    "DE": "de",
    "AT": "de",
    "ES": "es",
    "IT": "it",
    "NL": "nl",
    "PT": "pt",
    "PL": "pl",
    "GB": "en",
    "UK": "en",
    "IE": "en",
    "US": "en",
    "CA": "en",
    "AU": "en",
    "SE": "sv",
    "DK": "da",
    "FI": "fi",
    "CZ": "cs",
    "SK": "sk",
    "HU": "hu",
    "RO": "ro",
    "GR": "el",
    "HR": "hr",
    "SI": "sl",
    "BG": "bg",
    "NO": "nb",
}
_LANGUAGE_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{2,8})*$")


def language_of_country(country: str | None) -> str | None:
    """The language of a marketplace's site in ``country`` (``"DE"`` → ``"de"``); None for
    a country of several languages or one we do not know."""
    return COUNTRY_LANGUAGES.get((country or "").strip().upper())


def language_tag(value: str | None) -> str | None:
    """A marketplace's language value as our BCP 47 primary tag (``"de-DE"``, ``"de_de"``,
    ``"DE"`` → ``"de"``); None for anything else."""
    match = _LANGUAGE_TAG.match((value or "").strip())
    return match[1].lower() if match else None


class Topics(msgspec.Struct, frozen=True, kw_only=True):
    """A ticket's language and subject, and where each came from."""

    language: str  # BCP 47 primary tag, or "und"
    language_source: Source
    # How sure the detector was (0–1); None when the marketplace said it.
    language_confidence: float | None
    subject: Subject
    subject_source: Source
