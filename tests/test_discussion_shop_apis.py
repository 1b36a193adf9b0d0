"""The shop APIs whose replies go in a discussion (seam.DiscussionShopApi): whom a reply may
go to, how its text is carried, and who opened a claim, as each connector declares it
(fast, no servers)."""

from __future__ import annotations

import pytest
from keybuzz_connector_backmarket.shop_api import BackMarketShopApi
from keybuzz_connector_cdiscount.shop_api import CdiscountShopApi
from keybuzz_connector_mirakl.shop_api import MiraklShopApi
from keybuzz_shared.connectors.seam import (
    DiscussionShopApi,
    Limits,
    ReplyOutcome,
    ThreadKey,
)

LIMITS = Limits(max_attachments=1, max_attachment_bytes=1, max_text_length=1, page_size=1)

# (the shop API, whom a discussion's reply may go to, who opens a claim at the marketplace,
# the subject a claim without its notice is shown under)
DECLARED = [
    (BackMarketShopApi(LIMITS), ("BUYER", "ALL"), "BackMarket", "Réclamation Back Market"),
    (
        CdiscountShopApi(LIMITS),
        ("BUYER", "MARKETPLACE_SUPPORT", "ALL"),
        "GrcOperator",
        "Litige Cdiscount",
    ),
    (
        MiraklShopApi(LIMITS, "Boulanger"),
        ("BUYER", "MARKETPLACE_SUPPORT", "ALL"),
        "OPERATOR",
        "Incident Mirakl",
    ),
]


@pytest.mark.parametrize(
    ("api", "recipients", "support", "subject"),
    DECLARED,
    ids=[type(api).__name__ for api, *_ in DECLARED],
)
def test_a_discussion_shop_api_says_what_its_marketplace_declares(
    api: DiscussionShopApi, recipients: tuple[str, ...], support: str, subject: str
) -> None:
    assert api.limits is LIMITS
    assert api.recipients(ThreadKey("DISCUSSION", "42", "order-1")) == recipients
    assert api.recipients(ThreadKey("ORDER", "order-1")) == ()
    text = "Bonjour,\n\tvoici\x0bla suite <b>&amp;</b> 🙂"
    assert api.reply_text(text) == text
    assert api.refusal_codes(ReplyOutcome(status="FAILED", reason="ERR_1 refused")) == ()
    assert api.claim_subject == subject
    assert api.claim_opener(support) == "MARKETPLACE_SUPPORT"
    assert [api.claim_opener(o) for o in (None, "", "Customer", support.lower())] == ["BUYER"] * 4
