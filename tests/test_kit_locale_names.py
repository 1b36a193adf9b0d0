"""A locale's country and language as a ticket shows them, in French
(``kit/locale_names.py``); Back Market's tests hold them on its folders' details. No
servers."""

from __future__ import annotations

import pytest
from keybuzz_shared.connectors.kit.locale_names import locale_names


@pytest.mark.parametrize(
    ("locale", "names"),
    [
        ("de-at", ("Autriche", "allemand")),
        ("fr-be", ("Belgique", "français")),
        ("en_GB", ("Royaume-Uni", "anglais")),  # either separator, either case
        ("el-gr", ("Grèce", "grec")),  # a language code that is not its country's
        ("ja-JP", ("Japon", "japonais")),
    ],
)
def test_a_locales_country_and_language_are_named_in_french(
    locale: str, names: tuple[str, str]
) -> None:
    assert locale_names(locale) == names


@pytest.mark.parametrize(
    ("locale", "names"),
    [
        ("fr-ca", ("fr-ca", "français")),  # a country the table lacks
        ("xx-de", ("Allemagne", "xx-de")),  # a language the table lacks
        ("france", ("france", "france")),  # no locale at all
        ("", ("", "")),
    ],
)
def test_a_part_the_tables_lack_is_shown_as_written(locale: str, names: tuple[str, str]) -> None:
    assert locale_names(locale) == names
