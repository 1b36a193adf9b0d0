"""The poller's replies reach a marketplace's API through ports only: the reply use cases
(``replies/``) never import the shop code that talks to a session (``shops/replies.py``,
``shops/api_replies.py``, ``shops/api_source.py``) nor the registry's sessions; the process
wires those in (``bootstrap.py``). Read from the source, as ``test_import_graph.py`` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.source_imports import imported_names

REPLIES = Path(__file__).resolve().parents[1] / "services/poller/src/keybuzz_poller/replies"
SESSION_CODE = (
    "keybuzz_poller.shops.replies",
    "keybuzz_poller.shops.api_replies",
    "keybuzz_poller.shops.api_source",
    "keybuzz_shared.connectors.shop_sessions",
)


@pytest.mark.parametrize("path", sorted(REPLIES.glob("*.py")), ids=lambda p: p.stem)
def test_a_reply_use_case_reaches_the_marketplace_through_a_port(path: Path) -> None:
    imported = imported_names(path)
    wrong = sorted(
        n for n in imported for bad in SESSION_CODE if n == bad or n.startswith(f"{bad}.")
    )
    assert not wrong, f"{path.name} imports {wrong}"


def test_the_api_reply_attempt_lives_with_the_shop_code() -> None:
    assert not (REPLIES / "api_replies.py").exists()
    assert (REPLIES.parent / "shops" / "api_replies.py").exists()
