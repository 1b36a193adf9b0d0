"""A thread's details from the marketplace's codes (``kit/threads.py``), without
servers: a code shown by its label, else as it is; a detail without a value left out."""

from __future__ import annotations

from keybuzz_shared.connectors.kit.threads import labelled, shown
from keybuzz_shared.connectors.seam import ThreadDetail

LABELS = {"FR": "France"}


def test_a_code_is_shown_by_its_label_else_as_it_is() -> None:
    assert labelled("FR", LABELS) == "France"
    assert labelled("BE", LABELS) == "BE"  # a code added later: shown, never lost
    assert labelled("", LABELS) is None
    assert labelled(None, LABELS) is None


def test_an_empty_label_shows_the_code() -> None:
    assert labelled("X", {"X": ""}) == "X"


def test_only_the_details_with_a_value_are_shown_in_their_order() -> None:
    found = shown(
        ("topic", "Motif", "Commande"),
        ("sales_channel", "Canal de vente", None),
        ("sub_topic", "Sous-motif", ""),
        ("order", "Commande", "2611230948AAACH"),
    )
    assert found == (
        ThreadDetail(name="topic", label="Motif", value="Commande"),
        ThreadDetail(name="order", label="Commande", value="2611230948AAACH"),
    )
