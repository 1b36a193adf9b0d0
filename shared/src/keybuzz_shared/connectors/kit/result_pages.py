"""A listing's page as many JSON APIs answer it: its items under ``results``, and ``next``
naming the following page when there is one (care folders and orders, for one). An
answer without its list of results is the marketplace's unreadable answer, naming the
call."""

from __future__ import annotations

from typing import Any

from keybuzz_shared.connectors.kit.requester import Requester


def results_page(client: Requester, call: str, body: Any) -> tuple[list[Any], bool]:
    """A page's ``results`` (``body``, the answer to ``client``'s ``call``), and whether
    the marketplace says a next page follows."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise client.errors.unreadable(call, "no list of results in the page")
    return body["results"], bool(body.get("next"))
