"""The double kit's reading of a published OpenAPI description (``described.Described``),
held on the four doubles that declare one: an operation found by method and path, a
request's query and body and an answer checked by the description, each schema compiled
once."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

import pytest
from keybuzz_sandbox.double_kit.described import Described
from keybuzz_sandbox.doubles import GROUP


def _described(double: str) -> Any:
    """A double's published description(s), its package found by its entry point (the
    sandbox names no double's module)."""
    package = entry_points(group=GROUP)[double].module
    return importlib.import_module(f"{package}.contract").DESCRIBED


MIRAKL, BACKMARKET, KAUFLAND, EBAY = map(_described, ("mirakl", "backmarket", "kaufland", "ebay"))

# (description, a request's method and path, its operation, a query its description takes,
# one it does not, what is wrong with the latter)
QUERIES: list[tuple[Described, str, str, str, dict[str, Any], dict[str, Any], list[str]]] = [
    (
        MIRAKL,
        "GET",
        "/api/inbox/threads/",
        "M11",
        {"with_messages": "true", "updated_since": "2026-01-01T00:00:00Z", "locale": "fr_FR"},
        {"with_messages": "yes", "updated_since": "2026-01-01", "colour": "red"},
        [
            "unknown query parameter colour",
            "updated_since: '2026-01-01' is not a 'date-time'",
            "with_messages: 'yes' is not of type 'boolean'",
        ],
    ),
    (
        BACKMARKET,
        "GET",
        "/ws/sav",
        "getCareFolderList",
        {"page": "2", "state": "0"},
        {"page": "²", "state": "1"},
        ["state: 1 is not one of [0, 9]", "page: '²' is not of type 'integer'"],
    ),
    (
        KAUFLAND,
        "GET",
        "/tickets",
        "GetTickets",
        {"storefront": ["de", "fr"], "limit": ["20"]},
        {"storefront": ["de,xx"], "limit": ["20", "30"]},
        ["limit: given 2 times", "storefront: 'xx' is not one of"],
    ),
    (
        EBAY["message"],
        "GET",
        "/conversation",
        "getConversations",
        {"conversation_type": "FROM_MEMBERS", "limit": "50"},
        {"conversationType": "FROM_MEMBERS"},
        ["unknown query parameter conversationType", "conversation_type is required"],
    ),
]


@pytest.mark.parametrize("case", QUERIES, ids=lambda case: case[0].uri)
def test_a_query_is_checked_by_its_operations_parameters(case: Any) -> None:
    described, method, path, operation, good, bad, wrong = case
    assert described.operation_at(method, path) == operation
    assert described.query_problems(operation, good) == []
    found = described.query_problems(operation, bad)
    assert len(found) == len(wrong) and all(any(f.startswith(w) for f in found) for w in wrong), (
        found
    )
    compiled = described._compiled.cache_info().currsize
    described.query_problems(operation, bad)
    assert described._compiled.cache_info().currsize == compiled  # each schema compiled once


def test_a_body_and_a_part_are_checked_by_the_operations_request() -> None:
    assert MIRAKL.operation_at("GET", "/api/orders") == "OR11"  # a literal before a template
    assert MIRAKL.operation_at("GET", "/api/nothing/here") is None
    reply = {"body": "Bonjour", "to": [{"type": "CUSTOMER"}], "colour": "red"}
    part = MIRAKL.body_problems("M12", reply, "multipart/form-data", "message_input")
    assert part == [
        "message_input: Additional properties are not allowed ('colour' was unexpected)"
    ]
    form = BACKMARKET.body_problems("postMessage", {"msg": "Bonjour"}, "multipart/form-data")
    assert form and all(p.startswith("body: ") for p in form), form
    said = KAUFLAND.body_problems("CreateTicketMessage", {"text": "Bonjour", "colour": "red"})
    assert any("'colour' was unexpected" in p for p in said), said
    assert KAUFLAND.body_problems("CreateTicketMessage", {"text": "Bonjour"}) == []
    # An answer's schema written inline in an operation is closed too.
    orders = BACKMARKET.answer_problems("get-ws-list-order", "200", {"colour": 1})
    assert orders == ["answer: Additional properties are not allowed ('colour' was unexpected)"]
