"""The kit's shop API from a connector's declaration of where replies go (``Discussions``,
kit/declaration.py): by default a discussion's recipients, a text carried as it is, no code
of the marketplace's own and a claim opened by its support sender its staff's; declared
otherwise, the thread kinds that take replies, the text its messages carry, its codes in
a refusal, a claim opener naming the buyer and a gate (the seam's ``ReplyGate``, only
where one is declared); the connector carries what it and the declaration both name, as
declared. No server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.kit.declaration import ShopConnector
from keybuzz_shared.connectors.seam import (
    DiscussionShopApi,
    Limits,
    MarketplaceSession,
    Reply,
    ReplyGate,
    ReplyOutcome,
    ShopApiSettings,
    ThreadKey,
    ThreadStanding,
)

ORDER = ThreadKey(kind="ORDER", id="o-1")
DISCUSSION = ThreadKey(kind="DISCUSSION", id="d-1")


class Settings(kit.ShopSettings, kw_only=True, frozen=True):
    MARKETPLACE = "M"
    api_url: str = "https://api.example/"


def no_session(client: object, api: ShopApiSettings) -> MarketplaceSession:
    raise AssertionError("no session opened")


def connector(name: str = "M", **given: Any) -> ShopConnector:
    """Marketplace ``name``'s connector, declared with ``given`` the parts under test."""
    declared: dict[str, Any] = {
        "credential_fields": (),
        "client": lambda opening: opening,
        "parts": no_session,
        "probe": None,
        "settings": Settings,
        "discussions": kit.Declaration.Discussions(("BUYER",), support_sender="", claim_subject=""),
        "order_ids": kit.OrderIdPattern("[0-9]+", "digits"),
    }
    limits = Limits(max_attachments=0, max_attachment_bytes=0, max_text_length=100, page_size=10)
    return kit.shop_api_connector(
        kit.Declaration(name.upper(), name, limits=limits, **(declared | given))
    )


def shop_api(discussions: kit.Declaration.Discussions) -> DiscussionShopApi:
    made = connector(discussions=discussions).shop_api
    assert isinstance(made, DiscussionShopApi)
    return made


def test_the_connector_carries_what_its_declaration_names_alike() -> None:
    window, relay = kit.Declaration.OwnRule.hours(24, "no mark"), object()
    made = connector("n", response_window=window, mail_relay=relay, inbound_addresses=relay)
    assert (made.marketplace, made.display_name, made.limits.page_size) == ("N", "n", 10)
    assert made.credentials_path("t") == "secret/keybuzz/tenants/t/n_api"  # its own
    assert made.response_window is window and made.mail_relay is made.inbound_addresses is relay
    assert made.order_ids.is_order_id("42") and made.credential_fields == ()
    assert (made.settings_type, made.redirect_flow, made.connection_kind) == (
        Settings,
        None,
        "CREDENTIALS",
    )


def test_a_discussion_shop_api_by_default() -> None:
    api = shop_api(
        kit.Declaration.Discussions(("BUYER",), support_sender="Care", claim_subject="Litige")
    )
    assert api.recipients(DISCUSSION) == ("BUYER",) and api.recipients(ORDER) == ()
    assert api.reply_text("a\x0bb") == "a\x0bb"
    assert api.refusal_codes(ReplyOutcome(status="FAILED", reason="E_1 refused")) == ()
    assert api.claim_opener("Care") == "MARKETPLACE_SUPPORT"
    assert api.claim_opener("someone") == api.claim_opener(None) == "BUYER"
    assert api.claim_subject == "Litige"


def test_threads_text_codes_and_the_buyer_opener_as_declared() -> None:
    api = shop_api(
        kit.Declaration.Discussions(
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


def test_a_declared_gate_is_the_shop_apis_reply_gate_and_none_without_it() -> None:
    """The poller asks a gate by its type: a shop API without a declared gate is none."""

    def gate(reply: Reply, standing: ThreadStanding, now: datetime) -> str | None:
        return "a claim is open" if standing.claim and reply.recipient == "BUYER" else None

    declared = kit.Declaration.Discussions(
        ("BUYER",), support_sender="C", claim_subject="L", gate=gate
    )
    gated = shop_api(declared)
    reply = Reply(thread=DISCUSSION, in_reply_to="m-1", recipient="BUYER", body="Bonjour")
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert isinstance(gated, ReplyGate)
    assert gated.reply_refusal(reply, ThreadStanding(claim=True), now) == "a claim is open"
    assert gated.reply_refusal(reply, ThreadStanding(), now) is None
    plain = kit.Declaration.Discussions(("BUYER",), support_sender="C", claim_subject="L")
    ungated = shop_api(plain)
    assert not isinstance(ungated, ReplyGate)


async def test_a_shops_credentials_missing_a_declared_field_open_no_client() -> None:
    """The declaration checks its fields before its ``client`` is opened on them."""
    opened: list[object] = []
    fields = (kit.key_field("api_key", "Key", max_length=64), kit.shop_number_field("shop", "Shop"))
    made = connector(client=opened.append, credential_fields=fields).shop_api
    api = Settings().shop_api("M")
    assert api is not None
    async with httpx.AsyncClient() as http:
        with pytest.raises(ValueError, match="M credentials lack shop") as refused:
            made.session({"api_key": "s3cr3t", "shop": ""}, http=http, settings=api)
    assert "s3cr3t" not in str(refused.value) and opened == []
