"""The kit's small parts of a listing, without servers: parameters the marketplace may
refuse, asked until it does and left out for the rest of the session
(``optional_params``), what a listing's items are looked up in, read once
(``Listing.Lookup``), and an id written into a path as one segment or refused
(``path_segment``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from keybuzz_connector_cdiscount.discussions import optional_params
from keybuzz_shared.connectors.kit import CallErrors, Listing
from keybuzz_shared.connectors.kit.json_answers import path_segment
from keybuzz_shared.connectors.seam import CallRefused, CallUnavailable

ERRORS = CallErrors.labelled("Shop")


class Shop:
    """A listing that refuses ``withMessages`` with ``status`` (None: takes it); the
    queries asked kept."""

    def __init__(self, status: int | None) -> None:
        self.status = status
        self.asked: list[dict[str, str]] = []

    async def fetch(self, query: dict[str, str], link: str | None) -> tuple[Sequence[Any], None]:
        self.asked.append(query)
        if self.status is not None and "withMessages" in query:
            raise ERRORS.refused("GET threads", self.status, "unknown parameter")
        return [{"id": len(self.asked)}], None


async def test_optional_params_are_asked_while_the_marketplace_takes_them() -> None:
    shop = Shop(None)
    fetch = optional_params(shop.fetch, {"withMessages": "all"}, "Shop")
    await fetch({"page": "1"}, None)
    await fetch({"page": "2"}, None)
    assert shop.asked == [
        {"page": "1", "withMessages": "all"},
        {"page": "2", "withMessages": "all"},
    ]


async def test_optional_params_refused_are_said_and_left_out_for_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop = Shop(400)
    fetch = optional_params(shop.fetch, {"withMessages": "all"}, "Shop")
    with caplog.at_level(logging.WARNING):
        first = await fetch({"page": "1"}, None)
        await fetch({"page": "2"}, None)
    assert first == ([{"id": 2}], None)  # the same page, asked again without them
    assert shop.asked == [{"page": "1", "withMessages": "all"}, {"page": "1"}, {"page": "2"}]
    assert [r.getMessage() for r in caplog.records] == [
        "Shop refused withMessages=all (unknown parameter): listing without it"
    ]


async def test_a_refusal_of_another_kind_is_raised_not_taken_for_the_parameters() -> None:
    shop = Shop(403)
    fetch = optional_params(shop.fetch, {"withMessages": "all"}, "Shop")
    for _ in range(2):
        with pytest.raises(CallRefused):
            await fetch({"page": "1"}, None)
    assert shop.asked == [{"page": "1", "withMessages": "all"}] * 2


# --- Listing.Lookup ----------------------------------------------------------------------


class Table:
    """A table read by ``read``: each answer in turn (an exception raised), the reads kept."""

    def __init__(self, *answers: Exception | dict[str, str]) -> None:
        self.answers = list(answers)
        self.reads = 0

    async def read(self) -> dict[str, str]:
        self.reads += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_a_lookup_is_read_when_first_needed_and_kept_until_dropped() -> None:
    table = Table({"code": "label"}, {"code": "new label"})
    lookup = Listing.Lookup(table.read, {}, "the shop's labels")
    assert table.reads == 0
    assert await lookup.get() == await lookup.get() == {"code": "label"}
    assert table.reads == 1
    lookup.drop()
    assert await lookup.get() == {"code": "new label"} and table.reads == 2


FAILURES = [
    ERRORS.unavailable("GET labels", "down"),
    ERRORS.refused("GET labels", 403, "no"),
    ValueError("labels off their shape"),
]


@pytest.mark.parametrize("failure", FAILURES)
async def test_an_optional_lookup_unread_gives_its_fallback_said_and_is_asked_again(
    failure: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    table = Table(failure, {"code": "label"})
    lookup = Listing.Lookup(table.read, {}, "the shop's labels", optional=True)
    with caplog.at_level(logging.WARNING):
        assert await lookup.get() == {}
    assert "the shop's labels unread" in caplog.text
    assert await lookup.get() == {"code": "label"} and table.reads == 2


async def test_a_lookup_the_items_wait_for_lets_a_failure_other_than_a_refusal_go_up() -> None:
    table = Table(ERRORS.unavailable("GET orders", "down"), {"order": "1"})
    lookup = Listing.Lookup(table.read, {}, "the recent orders")
    with pytest.raises(CallUnavailable):
        await lookup.get()
    assert await lookup.get() == {"order": "1"}


@pytest.mark.parametrize(
    ("value", "written"), [("42", "42"), ("a/b", "a%2Fb"), ("é 1", "%C3%A9%201")]
)
def test_an_id_is_written_as_one_path_segment(value: str, written: str) -> None:
    assert path_segment(value) == written


@pytest.mark.parametrize("value", ["", " ", ".", ".."])
def test_an_id_that_would_name_another_path_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="is not an attachment id"):
        path_segment(value, "an attachment id")
