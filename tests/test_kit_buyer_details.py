"""A buyer as a ticket shows it: its locale's country and language in French
(``connectors/backmarket/src/keybuzz_connector_backmarket/locale_names.py``) and its name as a snake_case answer spells it
(``PersonName``); Back Market's tests hold them on its folders. No servers."""

from __future__ import annotations

import pytest
from keybuzz_connector_backmarket.care import locale_names
from keybuzz_shared.connectors.kit import PersonName, read_as


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


def test_a_snake_case_name_is_joined_from_the_parts_it_has() -> None:
    read = read_as(PersonName, {"first_name": "Léa", "last_name": "Martin"}, "client")
    assert read.full == "Léa Martin"
    assert (
        read_as(PersonName, {"first_name": None, "last_name": "Martin"}, "client").full == "Martin"
    )
    assert read_as(PersonName, {"first": "Léa", "last_name": ""}, "client").full is None
    with pytest.raises(ValueError, match="client off its shape"):
        read_as(PersonName, {"first_name": 3}, "client")
