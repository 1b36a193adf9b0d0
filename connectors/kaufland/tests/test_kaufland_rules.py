"""Kaufland's rules without servers: the signature of Kaufland's recipe on the test vectors
computed from it (the spec's notes), a deadline in working days, a newest-first offset
listing that shifts while it is read, and a ticket's mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from keybuzz_connector_kaufland.connector import (
    REQUESTS_PER_SECOND,
    RESPONSE_WINDOW,
    SIGNED_HEADERS,
    SPEC,
    KauflandSettings,
)
from keybuzz_connector_kaufland.tickets import Ticket, inbox_messages_of, reply_refusal
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.kit.requester import RequestRate
from keybuzz_shared.connectors.seam import Reply, ThreadStanding

SECRET = "0123456789abcdef" * 4
API = "https://sellerapi.kaufland.com/v2"


def signed(request: httpx.Request) -> httpx.Request:
    auth = kit.HeaderAuth.signed("k" * 32, SECRET, SIGNED_HEADERS)
    auth._clock = lambda: 1_700_000_000  # type: ignore[attr-defined]
    signed = auth.sign(request)
    assert SECRET not in repr(auth) and signed.headers["Shop-Signature"] in auth.secrets()
    return signed


def test_requests_are_signed_as_kauflands_recipe_gives_the_vectors() -> None:
    query = {"status": "opened", "storefront": "de", "limit": "30", "offset": "0"}
    listed = signed(httpx.Request("GET", f"{API}/tickets", params=query))
    assert listed.headers["Shop-Timestamp"] == "1700000000"
    assert listed.headers["Shop-Signature"] == (
        "5de61808c6865eccc78c3dc2ebcbf5066bd67215e84ebbd2809953f973f1dbb4"
    )
    posted = signed(
        httpx.Request("POST", f"{API}/tickets/0011234567/messages", content=b'{"text":"Bonjour"}')
    )
    assert posted.headers["Shop-Signature"] == (
        "176083f49baf0b9864f7b920c6a5103ed4f77522bdde92fb62feca8afcf468a3"
    )


def test_48_hours_are_counted_on_working_days_only() -> None:
    rule = RESPONSE_WINDOW.rule
    friday = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
    assert rule.due(friday) == datetime(2026, 12, 1, 15, 30, tzinfo=UTC)  # Tuesday
    saturday = datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert rule.due(saturday) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # Monday 0 h + 48 h
    monday = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert rule.due(monday) == monday + timedelta(hours=48)


async def test_a_newest_first_listing_changing_while_read_misses_nothing_and_repeats_nothing() -> (
    None
):
    """Tickets 0..99 newest first, pages of 10; while it is read, tickets already read and
    not yet read move to the head (changed), new ones arrive: every ticket there at the start
    is listed once, a ticket moved ahead of the reading is the next listing's (its window
    overlaps: it changed after this one began)."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    at = {n: start + timedelta(minutes=n) for n in range(100)}
    moved: list[int] = []

    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], int]:
        offset = int(query["offset"])
        if offset == 20:  # two read, two not yet read change; three new ones arrive
            for n in (95, 91, 40, 12):
                at[n] = start + timedelta(days=1, minutes=n)
            moved.extend((40, 12))
            at.update({100 + n: start + timedelta(days=1, hours=1, minutes=n) for n in range(3)})
        order = sorted(at, key=lambda n: (at[n], n), reverse=True)
        return [(n, at[n]) for n in order[offset : offset + 10]], len(order)

    paging = kit.Listing.Offsets[tuple[int, datetime]](
        lambda item: (item[1], str(item[0])), size=10, overlap=3, newest_first=True
    )
    listing = kit.Listing(paging, lambda low, high: {}, fetch)
    read = await listing.every(
        listing.start(start, None, updated=True), lambda raw: (tuple(raw), ())
    )
    ids = [n for n, _ in read.items]
    assert len(ids) == len(set(ids)), "a ticket listed twice"
    assert set(range(100)) - set(ids) == set(moved)


def ticket(**changed: Any) -> Ticket:
    at = "2026-11-27T09:00:00Z"
    said = [
        {
            "id_ticket_message": 1,
            "author": {"role": "buyer", "name": "Camille"},
            "text": "Où est mon colis ?",
            "ts_created_iso": at,
        },
        {
            "id_ticket_message": 2,
            "author": {"role": "customer_service", "name": "Kaufland"},
            "text": "Le vendeur va répondre.",
            "ts_created_iso": "2026-11-27T10:00:00Z",
        },
        {
            "id_ticket_message": 3,
            "author": {"role": "system", "name": "Kaufland"},
            "text": "Rappel",
            "ts_created_iso": "2026-11-27T11:00:00Z",
        },
    ]
    raw = {
        "id_ticket": "0011234567",
        "status": "opened",
        "open_reason": "product_defect",
        "is_seller_responsible": True,
        "ts_created_iso": at,
        "ts_updated_iso": at,
        "topic": None,
        "storefront": "cz",
        "ids_order_units": [5, 6],
        "messages": said,
        "files": [
            {
                "filename": "photo.jpg",
                "uri": "https://www.kaufland.de/dynamic/files/1",
                "ts_created_iso": "2026-11-27T10:30:00Z",
            }
        ],
        "order_units": [
            {"id_order_unit": 5, "id_order": "MB7UWLD"},
            {"id_order_unit": 6, "id_order": "MB7UWLD"},
        ],
    } | changed
    return kit.read_as(Ticket, raw, "ticket")


def test_a_ticket_is_one_thread_its_authors_told_apart_in_its_storefronts_language() -> None:
    buyer, staff, system = inbox_messages_of(ticket())
    assert [m.sender_type for m in (buyer, staff, system)] == [
        "BUYER",
        "MARKETPLACE_SUPPORT",
        "SYSTEM",
    ]
    assert {m.thread.id for m in (buyer, staff)} == {"0011234567"}
    assert buyer.thread.order_id == "MB7UWLD" and buyer.language == "cs"
    assert buyer.ticket_subject == "DAMAGED_OR_WRONG_ITEM"  # its open reason, no topic
    assert buyer.reply_needed_since == datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert [f.name for f in staff.files] == ["photo.jpg"] and not buyer.files
    topic = inbox_messages_of(ticket(topic="delivery_delayed", storefront="fr"))[0]
    assert (topic.ticket_subject, topic.language) == ("WHERE_IS_MY_ORDER", "fr")
    answered = inbox_messages_of(ticket(is_seller_responsible=False, status="buyer_closed"))[0]
    assert answered.reply_needed_since is None
    shown = {d.name: d.value for d in answered.thread_details}
    assert shown["ticket_status"] == "fermé par l'acheteur" and shown["orders"] == "MB7UWLD"


def test_a_reply_to_a_ticket_closed_for_good_is_refused_before_it_is_queued() -> None:
    final = inbox_messages_of(ticket(status="customer_service_closed_final"))[0]
    closed = inbox_messages_of(ticket(status="buyer_closed"))[0]
    reply = Reply(thread=final.thread, in_reply_to=final.message_id, body="Bonjour")
    now = datetime.now(UTC)
    assert "for good" in (
        reply_refusal(reply, ThreadStanding(details=final.thread_details), now) or ""
    )
    assert reply_refusal(reply, ThreadStanding(details=closed.thread_details), now) is None


async def test_a_shops_requests_never_pass_its_share_of_kauflands_111_a_second() -> None:
    """Kaufland counts 111 requests a second per seller across endpoints [official]; each of
    the two services calling for a shop paces its session to its half."""
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    assert SPEC.requests_per_second == REQUESTS_PER_SECOND and 2 * REQUESTS_PER_SECOND <= 111
    rate = RequestRate(REQUESTS_PER_SECOND, clock=lambda: now[0], sleep=sleep)
    left = []
    for n in range(3 * REQUESTS_PER_SECOND):
        await rate.before(f"call {n % 3}")
        left.append(now[0])
    most = max(sum(1 for t in left if start <= t < start + 1.0) for start in left)
    assert most == REQUESTS_PER_SECOND and left[-1] == 2.0


def test_a_tickets_files_come_from_each_storefronts_site_or_the_api_only() -> None:
    """Kaufland links a ticket's files on its storefront's site [official example on
    kaufland.de]: every storefront's site is a file origin, and no other host but the API's."""
    sites = {f"https://www.kaufland.{s}:443" for s in ("de", "at", "cz", "sk", "pl", "fr", "it")}
    assert set(KauflandSettings().file_origins) == sites | {"https://sellerapi.kaufland.com:443"}
