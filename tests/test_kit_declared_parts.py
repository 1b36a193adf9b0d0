"""The kit's parts a connector declares for a mail relay (``DeclaredRelay``), eBay's consent
sites and an offset listing whose items sit under a key of its own (the kit's
``JsonAnswers``). No servers: each part on calls and mails of the
test's own; the connectors' tests hold them on their doubles (Amazon's and ManoMano's
relays, eBay's consent and conversations)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from keybuzz_connector_ebay.consent import EbayRedirectFlow
from keybuzz_shared.connectors.kit import CallErrors, JsonAnswers, OrderIdPattern
from keybuzz_shared.connectors.kit.declared_relay import DeclaredRelay
from keybuzz_shared.connectors.kit.listing import MAX_PAGES
from keybuzz_shared.connectors.kit.signed_mail import Signed
from keybuzz_shared.connectors.seam import (
    CallAnswerUnreadable,
    Limits,
    MailPart,
    ParsedMail,
    SenderType,
    attachment_types,
)

ERRORS = CallErrors.labelled("Shop")


@dataclass
class Mail:
    """A parsed relay mail, as the poller's parser gives one."""

    subject: str
    order_id: str | None = "S12345"
    buyer_email: str | None = "abc@relay.shop.test"
    external_id: str = "<m1@shop.test>"
    buyer_name: str | None = "Ana"
    text: str = "Where is my parcel?"
    raw: bytes = b""
    raw_text: str = ""
    parse_error: str | None = None
    sent_at: datetime | None = datetime(2026, 11, 1, tzinfo=UTC)
    automatic: bool = False
    attachments: list[MailPart] = field(default_factory=list)
    from_address: str | None = None
    field_counts: dict[str, int] = field(default_factory=dict)


def sender_of(mail: ParsedMail, signed: Signed) -> SenderType:
    return "BUYER" if mail.buyer_email else "MARKETPLACE_SUPPORT"


class ShopRelay(DeclaredRelay):
    sender_of = sender_of
    address_label = "shop"
    buyer_address_form = "…@relay.shop.test"
    buyer_address = re.compile(r"@relay\.shop\.test$", re.I)
    name_suffix = re.compile(r"\s*via shop$", re.I)
    order_ids = OrderIdPattern("S[0-9]{5}", "a Shop one")
    order_note = "[{}]"
    attachment_types = attachment_types(".pdf")
    subject_topics = ((re.compile("invoice", re.I), "INVOICE_REQUEST"),)
    demo_mails = (
        DeclaredRelay.DemoMail("S12345", ("Ana via Shop", "a1@relay.shop.test"), "Hi", "Hello"),
    )


RELAY = ShopRelay(
    Limits(max_attachments=2, max_attachment_bytes=10, max_text_length=99, page_size=10)
)


def test_a_declared_relay_reads_its_aliases_names_and_order_ids() -> None:
    assert RELAY.is_buyer_address("x@Relay.Shop.test")
    assert not RELAY.is_buyer_address("x@elsewhere.test")
    assert RELAY.buyer_name("Ana via Shop") == "Ana"
    assert RELAY.order_ids_in("about S12345 and S99999") == ["S12345", "S99999"]
    assert RELAY.reply_rules.max_text_chars == 99 and set(RELAY.reply_rules.attachment_types) == {
        ".pdf"
    }


def test_a_declared_relays_mail_is_on_its_orders_thread_with_its_sender_and_topic() -> None:
    message = RELAY.message(Mail("My invoice please"), datetime(2026, 11, 2, tzinfo=UTC))
    assert (message.thread.kind, message.thread.id) == ("ORDER", "S12345")
    assert message.sender_type == "BUYER" and message.ticket_subject == "INVOICE_REQUEST"
    plain = RELAY.message(Mail("Parcel", buyer_email=None), datetime(2026, 11, 2, tzinfo=UTC))
    assert plain.sender_type == "MARKETPLACE_SUPPORT" and plain.ticket_subject != "INVOICE_REQUEST"


def test_a_declared_relays_reply_subject_keeps_the_order_in_its_own_words() -> None:
    assert RELAY.reply_subject("Parcel", "S12345") == "Re: Parcel [S12345]"
    assert RELAY.reply_subject("RE: about S12345", "S12345") == "RE: about S12345"


def test_a_declared_relays_demo_mail_is_the_same_bytes_every_time() -> None:
    assert RELAY.demo_mail_count == 1
    first = RELAY.demo_mail("t-1", 0, "inbound.test", "X-Original-To")
    assert first == RELAY.demo_mail("t-1", 0, "inbound.test", "X-Original-To")
    assert b"shop.t-1.fr.mock@inbound.test" in first and b"S12345" in first
    assert repr(RELAY) == "ShopRelay()"


def test_consent_sites_are_found_by_country_or_site_id_and_an_unknown_one_refused() -> None:
    sites = EbayRedirectFlow()
    assert sites.site(" be ").id == "EBAY_FRBE" and sites.site("ebay_fr").code == "FR"
    assert sites.site("be").locale == "fr-BE"
    with pytest.raises(ValueError, match="no site 'XX'"):
        sites.site("XX")


class Pages:
    """A listing's pages by offset, from the test's own table; each query kept."""

    errors = ERRORS

    def __init__(self, pages: list[Any]) -> None:
        self.pages = pages
        self.asked: list[dict[str, str]] = []

    async def get_json(self, path: str, params: dict[str, str], operation: str) -> Any:
        self.asked.append(params)
        return self.pages[int(params["offset"]) // int(params["limit"])]


def items(client: Any) -> JsonAnswers:
    return JsonAnswers(client, items="items", items_optional=True)


def test_an_offset_page_without_its_key_is_empty_and_one_off_its_shape_unreadable() -> None:
    client: Any = Pages([])
    assert items(client).page_of("GET items", {"items": [1], "next": "n"}) == ([1], True)
    assert items(client).page_of("GET items", {"total": 0}) == ([], False)
    with pytest.raises(CallAnswerUnreadable, match="no list of items"):
        items(client).page_of("GET items", {"items": {"1": 1}})


async def test_every_offset_page_is_read_until_none_follows_or_its_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pages = [{"items": [1, 2], "next": "1"}, {"items": [3, 4], "next": "2"}, {"items": [5]}]
    client: Any = Pages(pages)
    assert await items(client).every("p", {"q": "1"}, size=2) == [1, 2, 3, 4, 5]
    assert client.asked[1] == {"q": "1", "limit": "2", "offset": "2"}
    bounded: Any = Pages(pages)
    assert await items(bounded).every("p", {}, size=2, most=2) == [1, 2, 3, 4]
    assert len(bounded.asked) == 2
    assert "listing stopped" not in caplog.text  # only its first pages wanted: no fault


class Endless(Pages):
    """A marketplace whose every page past the first is the same ``page``, saying another
    follows: followed, a listing would page on for ever."""

    def __init__(self, page: dict[str, Any]) -> None:
        super().__init__([])
        self.page = page

    async def get_json(self, path: str, params: dict[str, str], operation: str) -> Any:
        self.asked.append(params)
        return {"items": [1, 2], "next": "1"} if params["offset"] == "0" else self.page


@pytest.mark.parametrize(
    "page",
    [{"items": [], "next": "more"}, {"next": "more"}, {"items": [1, 2], "next": "more"}],
    ids=["empty-with-next", "no-list-with-next", "the-same-items-again"],
)
async def test_an_offset_listing_stops_at_a_page_saying_more_with_nothing_or_repeating(
    page: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    endless: Any = Endless(page)
    assert await items(endless).every("p", {}, size=2) == [1, 2]
    assert len(endless.asked) == 2 and "listing stopped" in caplog.text
    # One page alone: no next page is said to follow a page that listed nothing.
    assert items(endless).page_of("GET items", {"items": [], "next": "more"}) == ([], False)


async def test_an_offset_listing_without_a_bound_stops_at_the_kits() -> None:
    class Growing(Pages):  # new items on every page, each saying another follows
        async def get_json(self, path: str, params: dict[str, str], operation: str) -> Any:
            self.asked.append(params)
            return {"items": [params["offset"]], "next": "more"}

    growing: Any = Growing([])
    assert len(await items(growing).every("p", {}, size=2)) == MAX_PAGES == len(growing.asked)
