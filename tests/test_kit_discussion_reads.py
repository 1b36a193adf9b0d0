"""What the kit reads of a discussion given with its messages and its parties, without
servers: whom a reply goes to among the parties it offers (``offered_parties``; a
discussion read whole where listed without all its messages: ``test_kit_thread_pages.py``)."""

from __future__ import annotations

import pytest
from keybuzz_shared.connectors.kit.threads import offered_parties
from keybuzz_shared.connectors.seam import Recipient

KINDS: dict[Recipient, tuple[str, ...]] = {
    "BUYER": ("Customer",),
    "MARKETPLACE_SUPPORT": ("Operator",),
    "ALL": ("Customer", "Operator"),
}
Party = tuple[str, int]  # its kind, its id


def parties(recipient: Recipient, *offered: Party) -> list[Party] | None:
    return offered_parties(KINDS, recipient, offered, lambda party: party[0])


def test_a_reply_goes_to_the_offered_parties_of_its_recipients_kinds() -> None:
    offered = (("Customer", 1), ("Operator", 2), ("Seller", 3))
    assert parties("BUYER", *offered) == [("Customer", 1)]
    assert parties("MARKETPLACE_SUPPORT", *offered) == [("Operator", 2)]
    assert parties("ALL", *offered) == [("Customer", 1), ("Operator", 2)]


@pytest.mark.parametrize(
    ("recipient", "offered"),
    [
        ("MARKETPLACE_SUPPORT", (("Customer", 1),)),
        ("ALL", (("Customer", 1),)),
        ("ALL", (("Customer", 1), ("Customer", 2))),  # two buyers are not customer care
        ("ALL", ()),
        ("OPERATOR", (("Customer", 1), ("Operator", 2))),  # no kind of party here
    ],
)
def test_a_recipient_whose_kinds_are_not_all_offered_has_no_party(
    recipient: Recipient, offered: tuple[Party, ...]
) -> None:
    assert parties(recipient, *offered) is None
