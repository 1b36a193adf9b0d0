"""The conformance suite: one message a connector cannot map or store as it came costs that
message only — never the rest of the shop's inbox. A buyer writes a message with content
PostgreSQL's text cannot hold as it is (a NUL), other control characters and a
bidirectional override, then a healthy one: the healthy one becomes a ticket, the hostile
one is stored with the NUL replaced, and the shop's polls do not fail. So with a message
whose bytes no strict decoder takes as text (``BAD_BYTES``): stored once, flagged. A file a message
names by a link or an id pointing anywhere else (here a listener of the test's own on
loopback), or on the marketplace's own host by a path that names another (``..``, plain,
encoded or behind a backslash), is never fetched from there: the message is stored once,
its file listed as skipped, and nothing reaches the listener."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from keybuzz_sandbox.conformance import ShopDriver, Unsupported
from keybuzz_sandbox.faults import FORBIDDEN_MARK, NOT_UTF8_MARK
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import (
    Stack,
    connected,
    polled_since,
    shop_status,
    stored_ids,
    tickets,
)
from tests.conformance.test_hostile_answers import written_while
from tests.conformance.test_shop_api_connectors import (
    NEXT_POLL,
    first_polled,
    shops,
    stored_after,
    ticket_of,
)

HOSTILE_TEXT = "Bonjour\x00 colis\x01 abîmé \u202eenu\u202c \x7f fin"


async def test_a_message_with_control_characters_costs_that_message_only(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    async with written_while(conformance, connector, driver, None, HOSTILE_TEXT) as (
        mine,
        first,
        hostile,
    ):
        healthy = await driver.buyer_writes(conformance.admin, mine.shop, "Un message sain")
        await stored_after(conformance, mine, healthy.message_id, first["lastSuccessAt"], True)
        status = await shop_status(conformance, mine)
        assert status is not None and status["consecutiveFailures"] == 0, status
        # By its id: the shop's history, read by the first poll, holds the other cases' texts.
        assert (await stored_ids(conformance, mine)).count(hostile.message_id) == 1
        ticket = await ticket_of(conformance, mine, hostile)
    [kept] = [m["body"] for m in ticket["messages"] if m["externalId"] == hostile.message_id]
    assert "\x00" not in kept and "abîmé" in kept and kept.endswith("fin")


# Texts a "BAD_BYTES" double serves holding bytes no strict decoder takes as text: raw bytes
# that are not UTF-8 (XML: and a raw control it forbids), JSON's escape of a lone
# surrogate (XML: a reference to NUL).
UNREADABLE_TEXTS = (f"Octets illisibles {NOT_UTF8_MARK} ici", f"Interdit {FORBIDDEN_MARK} là")
# (each case's texts its own: the shop's history, read by a first poll, holds the others')


async def test_a_message_with_bytes_no_decoder_takes_costs_that_message_only(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    """Each such message is stored once, its bad characters as U+FFFD and flagged
    (``parseError``); the healthy one written after them arrives; no poll fails; and the
    next poll, the double still answering so, stores nothing twice. Found by their words:
    a marketplace giving no id (Rakuten) has its connector derive one from them."""
    texts = [f"{uuid.uuid4().hex[:8]} {text}" for text in UNREADABLE_TEXTS]
    async with written_while(conformance, connector, driver, "BAD_BYTES", texts[0]) as (
        mine,
        first,
        _,
    ):
        await driver.buyer_writes(conformance.admin, mine.shop, texts[1])
        healthy = await driver.buyer_writes(conformance.admin, mine.shop, "Un message sain, après")
        await stored_after(conformance, mine, healthy.message_id, first["lastSuccessAt"], True)
        stored = await shop_status(conformance, mine)
        assert stored is not None
        status = await polled_since(conformance, mine, stored["lastSuccessAt"], NEXT_POLL, True)
        assert status["consecutiveFailures"] == 0, status
        assert (await stored_ids(conformance, mine)).count(healthy.message_id) == 1
        messages = [m for t in await tickets(conformance, mine) for m in t["messages"]]
    for text in texts:
        words = text.split("[[")[0]
        [kept] = [m for m in messages if m["body"].startswith(words)]  # once, none twice
        assert kept["parseError"] and "\ufffd" in kept["body"], kept
        assert "[[" not in kept["body"] and kept["body"].endswith(text[-3:]), kept


@asynccontextmanager
async def knocked() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A listener on loopback (the test's own, no marketplace's), its address and what each
    connection to it sent first."""
    knocks: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        knocks.append(await reader.read(200))
        writer.close()

    server = await asyncio.start_server(record, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/knock/facture.pdf", knocks
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.every_marketplace
async def test_a_file_named_outside_the_marketplace_is_never_fetched(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    [shop] = await shops(conformance, driver)
    async with knocked() as (reference, knocks), connected(conformance, connector, shop) as mine:
        first = await first_polled(conformance, mine)
        written = []
        # Elsewhere, then on the marketplace's own host a path that leads out of its files
        # to one that answers (the sandbox's health), plain and encoded.
        for link in (reference, *other_paths(conformance.sandbox)):
            try:
                written.append(
                    await driver.buyer_names_a_file(conformance.admin, shop, "Facture", link)
                )
            except Unsupported as exc:
                pytest.skip(str(exc))
        # One poll asked for, all of them written before it: each further poll asked would
        # only wait behind the last (a busy machine's seconds each).
        await stored_after(conformance, mine, written[-1].message_id, first["lastSuccessAt"], True)
        for each in written[:-1]:
            await stored_after(conformance, mine, each.message_id, first["lastSuccessAt"])
        messages = [m for t in await tickets(conformance, mine) for m in t["messages"]]
    for each in written:
        [message] = [m for m in messages if m["externalId"] == each.message_id]  # stored once
        [file] = message["attachments"]
        assert file["skipped"] and not file["size"], file
    assert knocks == [], knocks  # not one connection, let alone a request
    # Each message stored with its file skipped is a poll the refused link did not fail: a
    # poll's files are fetched before its page's transaction, and a failed poll stores
    # nothing. (Its status is not read: a busy machine may cut a later poll at its deadline.)


def other_paths(sandbox: str) -> list[str]:
    """Links on the double's host (the marketplace's own) naming, once their path is read
    as a server would, its health page: dot segments, percent-encoded, behind a backslash."""
    return [f"{sandbox}/files/{up}health" for up in ("../", "%2e%2e/", "..%5c", "%2E%2E\\")]
