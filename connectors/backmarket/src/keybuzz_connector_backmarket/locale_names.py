"""A locale's country and language as a ticket shows them beside a thread, in French (a
folder's or a site's ``de-at``: Autriche, allemand): those of the countries the
marketplaces' sites serve. A part the tables lack is shown as the locale was written:
shown, never lost."""

from __future__ import annotations

import re

# ISO 3166-1 alpha-2 → the country's name in French.
COUNTRIES = {
    "FR": "France",
    "BE": "Belgique",
    "ES": "Espagne",
    "DE": "Allemagne",
    "AT": "Autriche",
    "IT": "Italie",
    "GB": "Royaume-Uni",
    "NL": "Pays-Bas",
    "PT": "Portugal",
    "IE": "Irlande",
    "GR": "Grèce",
    "SK": "Slovaquie",
    "SE": "Suède",
    "US": "États-Unis",
    "JP": "Japon",
    "AU": "Australie",
}
# ISO 639-1 → the language's name in French.
LANGUAGES = {
    "fr": "français",
    "es": "espagnol",
    "de": "allemand",
    "it": "italien",
    "en": "anglais",
    "nl": "néerlandais",
    "pt": "portugais",
    "el": "grec",
    "sk": "slovaque",
    "sv": "suédois",
    "ja": "japonais",
}
_LOCALE = re.compile(r"([A-Za-z]{2})[-_]([A-Za-z]{2})")


def locale_names(locale: str) -> tuple[str, str]:
    """The country and the language of ``locale`` (``de-at``, ``de_AT``) in French; each
    one the tables lack, ``locale`` as written."""
    found = _LOCALE.fullmatch(locale.strip())
    if found is None:
        return locale, locale
    language, country = found[1].lower(), found[2].upper()
    return COUNTRIES.get(country, locale), LANGUAGES.get(language, locale)
