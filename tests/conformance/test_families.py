"""Which marketplaces run which conformance cases (conftest.py): each connector family's
first listed marketplace runs every case; a family's other marketplaces (one package
serving several from data) only the cases marked ``every_marketplace``."""

from keybuzz_shared.connectors.registry import families

from tests.conformance.conftest import first_of_each_family
from tests.conformance.harness import shop_api_connectors


def test_every_family_runs_every_case_through_one_marketplace_and_no_family_is_dropped() -> None:
    listed = shop_api_connectors()
    family_of = {m: name for name, members in families().items() for m in members}
    firsts = first_of_each_family(listed)
    every_case = [family_of[c.marketplace] for c in firsts]
    assert sorted(every_case) == sorted({family_of[c.marketplace] for c in listed}), every_case
    # Each the first its family lists (the suite's order), never a later one.
    assert all(
        c is next(d for d in listed if family_of[d.marketplace] == family_of[c.marketplace])
        for c in firsts
    )
    # Fnac's package serves Darty too [observed: its registry entry]: Darty runs the marked
    # cases only.
    assert "DARTY" in [c.marketplace for c in listed]
    assert "DARTY" not in [c.marketplace for c in firsts]
