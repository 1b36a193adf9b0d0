"""The kit's shop API from a connector's declaration of where replies go (``Discussions``,
kit/connector.py): by default a discussion's recipients, a text carried as it is, no code
of the marketplace's own and a claim opened by its support sender its staff's; declared
otherwise, the thread kinds that take replies, the text its messages carry, its codes in
a refusal and a claim opener naming the buyer. No server."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.seam import (
    Limits,
    MarketplaceSession,
    ReplyOutcome,
    ShopApiSettings,
    ThreadKey,
)
from keybuzz_shared.file_links import FileLinks

LIMITS = Limits(max_attachments=0, max_attachment_bytes=0, max_text_length=100, page_size=10)
ORDER = ThreadKey(kind="ORDER", id="o-1")
DISCUSSION = ThreadKey(kind="DISCUSSION", id="d-1")


def no_session(
    credentials: Mapping[str, str], http: httpx.AsyncClient, api: ShopApiSettings, files: FileLinks
) -> MarketplaceSession:
    raise AssertionError("no session opened")


def shop_api(discussions: kit.Discussions) -> kit.KitShopApi[ShopApiSettings]:
    return kit.KitShopApi(LIMITS, discussions, ShopApiSettings, no_session, marketplace="M")


def test_a_discussion_shop_api_by_default() -> None:
    api = shop_api(kit.Discussions(("BUYER",), support_sender="Care", claim_subject="Litige"))
    assert api.recipients(DISCUSSION) == ("BUYER",) and api.recipients(ORDER) == ()
    assert api.reply_text("a\x0bb") == "a\x0bb"
    assert api.refusal_codes(ReplyOutcome(status="FAILED", reason="E_1 refused")) == ()
    assert api.claim_opener("Care") == "MARKETPLACE_SUPPORT"
    assert api.claim_opener("someone") == api.claim_opener(None) == "BUYER"
    assert api.claim_subject == "Litige"


def test_threads_text_codes_and_the_buyer_opener_as_declared() -> None:
    api = shop_api(
        kit.Discussions(
            ("BUYER", "ALL"),
            support_sender="",
            claim_subject="Réclamation",
            threads=frozenset({"ORDER", "OFFER"}),
            carried=lambda text: text.replace("\x0b", "\n"),
            codes=lambda reason: tuple(w for w in reason.split() if w.startswith("E_")),
            buyer_opener="client",
        )
    )
    assert api.recipients(ORDER) == ("BUYER", "ALL") and api.recipients(DISCUSSION) == ()
    assert api.reply_text("a\x0bb") == "a\nb"
    refused = ReplyOutcome(status="FAILED", reason="answered ERROR: E_1 E_2")
    assert api.refusal_codes(refused) == ("E_1", "E_2")
    assert api.refusal_codes(ReplyOutcome(status="FAILED")) == ()
    assert api.claim_opener("CLIENT") == api.claim_opener("client") == "BUYER"
    assert api.claim_opener("callcenter") == api.claim_opener(None) == "MARKETPLACE_SUPPORT"
