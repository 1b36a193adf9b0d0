"""A relay mail body split into the buyer's words and the quoted history (pure)."""

from __future__ import annotations

import pytest
from keybuzz_poller.reading.relay_mail import buyer_section
from keybuzz_shared.own_words import split_quoted


def test_a_body_without_history_is_all_the_buyers() -> None:
    assert split_quoted("Hello,\n\nwhere is my parcel?") == ("Hello,\n\nwhere is my parcel?", "")


def test_quoted_lines_go_apart_and_the_buyers_lines_between_them_stay_in_order() -> None:
    text = "My answers below.\n> Did it arrive?\nNo.\n  > Is it damaged?\nYes, the box."
    assert split_quoted(text) == (
        "My answers below.\nNo.\nYes, the box.",
        "> Did it arrive?\n  > Is it damaged?",
    )


@pytest.mark.parametrize(
    "intro",
    [
        "On Fri, Nov 20, 2026 at 9:00 AM Shop <shop@example.com> wrote:",
        "Le ven. 20 nov. 2026 à 09:00, Boutique a écrit :",
        "Am 20.11.2026 um 09:00 Shop schrieb:",
        "El vie, 20 nov 2026 a las 9:00, Tienda escribió:",
        "Il giorno ven 20 nov 2026 alle 09:00 Negozio ha scritto:",
        "Op vr 20 nov. 2026 om 09:00 schreef Winkel:",
        "Em sex., 20 de nov. de 2026 às 09:00, Loja escreveu:",
        "W dniu 20.11.2026 o 09:00 Sklep napisał:",
        "-----Original Message-----",
        "-------- Message d'origine --------",
    ],
)
def test_everything_from_the_intro_line_on_is_history_even_unquoted(intro: str) -> None:
    text = f"Still nothing.\n\n{intro}\nWe shipped it on Monday.\n> Tracking: 1Z999"
    own, quoted = split_quoted(text)
    assert own == "Still nothing."
    assert quoted == f"{intro}\nWe shipped it on Monday.\n> Tracking: 1Z999"


def test_an_outlook_header_block_starts_the_history() -> None:
    text = "Toujours rien.\n\nDe : Boutique <shop@example.com>\nEnvoyé : lundi 20\nColis parti."
    assert split_quoted(text) == (
        "Toujours rien.",
        "De : Boutique <shop@example.com>\nEnvoyé : lundi 20\nColis parti.",
    )


def test_a_sentence_that_mentions_writing_is_not_an_intro() -> None:
    text = "On Monday I wrote to you twice.\nNobody answered."
    assert split_quoted(text) == (text, "")


def test_both_parts_are_tidied() -> None:
    text = "Hello   \r\n\n\n\n\nthanks\n> one  \n\n\n> two\n"
    assert split_quoted(text) == ("Hello\n\nthanks", "> one\n> two")


def test_the_buyers_section_is_between_amazons_first_two_markers() -> None:
    body = (
        "Header Amazon adds\n"
        "------------- Begin message -------------\n\nWhere is it?\n\n"
        "------------- End message -------------\n"
        "Footer: do not reply to this address\n"
    )
    assert buyer_section(body) == "Where is it?"
    assert buyer_section("No markers at all.  \n") == "No markers at all."
