"""The shop APIs whose replies go in a discussion (seam.DiscussionShopApi): whom a reply may
go to, how its text is carried, and who opened a claim, as each connector declares it
(fast, no servers)."""

from __future__ import annotations

import pytest
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import (
    ReplyOutcome,
    ThreadKey,
    shop_api_of,
)

# (the marketplace, whom a discussion's reply may go to, who opens a claim at the
# marketplace, the subject a claim without its notice is shown under)
DECLARED = [
    ("BACKMARKET", ("BUYER", "ALL"), "BackMarket", "Réclamation Back Market"),
    ("CDISCOUNT", ("BUYER", "MARKETPLACE_SUPPORT", "ALL"), "GrcOperator", "Litige Cdiscount"),
    ("BOULANGER", ("BUYER", "MARKETPLACE_SUPPORT", "ALL"), "OPERATOR", "Incident Mirakl"),
]


@pytest.mark.parametrize(
    ("marketplace", "recipients", "support", "subject"),
    DECLARED,
    ids=[marketplace for marketplace, *_ in DECLARED],
)
def test_a_discussion_shop_api_says_what_its_marketplace_declares(
    marketplace: str, recipients: tuple[str, ...], support: str, subject: str
) -> None:
    connector = connector_for(marketplace)
    api = shop_api_of(connector)
    assert api.limits is connector.limits
    assert api.recipients(ThreadKey("DISCUSSION", "42", "order-1")) == recipients
    assert api.recipients(ThreadKey("ORDER", "order-1")) == ()
    text = "Bonjour,\n\tvoici\x0bla suite <b>&amp;</b> 🙂"
    assert api.reply_text(text) == text
    assert api.refusal_codes(ReplyOutcome(status="FAILED", reason="ERR_1 refused")) == ()
    assert api.claim_subject == subject
    assert api.claim_opener(support) == "MARKETPLACE_SUPPORT"
    assert [api.claim_opener(o) for o in (None, "", "Customer", support.lower())] == ["BUYER"] * 4
