"""The conformance suite: a marketplace that repeats the key it was sent in its refusal —
as sent, upper- or lower-cased, base64 (standard or URL-safe, of the key or of its upper
case), hex, base32, percent-encoded (as a URL quotes it or every character), as the Basic
pair, reversed, spaced out, cut in four, dashed every four characters, ROT13, as HTML
character references (decimal, hex) or JSON escapes — never gets a form of it into an
answer, a row or a log line, at connect (oauth's check) and when a poll meets the refusal
(the poller; the connection's ``lastError`` in oauth). The doubles echo on demand
(``keybuzz_sandbox.echo``), every form at once in one refusal: one case per connector and
path. What holds it is a mask by shape, not a list of forms (docs/SECURITY.md, "A remote's
free text"); the orders' path: tests/test_secrets_echoed_in_orders.py."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import pytest
from keybuzz_sandbox.conformance import ShopDriver
from keybuzz_sandbox.echo import ALL, FORMS
from keybuzz_shared.connectors.seam import Connector
from keybuzz_shared.logs import JsonFormatter

from tests.conformance.harness import (
    Stack,
    connect_body,
    connected,
    failed_since,
    new_tenant,
    oauth_call,
)
from tests.conformance.test_shop_api_connectors import (
    NEXT_POLL,
    first_polled,
    shops,
    skip_if_consented,
)


def forms_of(secret: str) -> list[str]:
    """Every way the doubles echo ``secret``, and the secret lower-cased (what a
    case-insensitive reader would also find)."""
    return [echo(secret) for echo in FORMS.values()] + [secret.lower()]


def found_in(text: str, secret: str) -> list[str]:
    """The forms of ``secret`` in ``text`` whatever their case, as they are or escaped once
    more (a JSON line or a row's text doubles a JSON escape's backslash). The text is
    lower-cased once, not once a form."""
    lowered = text.lower()
    return [
        form
        for form in forms_of(secret)
        if any(f.lower() in lowered for f in {form, form.replace("\\", "\\\\")})
    ]


def mutated(secret: str) -> str:
    """Another value of the same shape (the field's pattern still holds): each digit and
    letter moved on by one in its own class."""

    def moved(char: str) -> str:
        if char.isdigit():
            return str((int(char) + 1) % 10)
        if "a" <= char <= "z":
            return chr((ord(char) - ord("a") + 1) % 26 + ord("a"))
        if "A" <= char <= "Z":
            return chr((ord(char) - ord("A") + 1) % 26 + ord("A"))
        return char

    return "".join(moved(c) for c in secret)


class EmittedLines(logging.Handler):
    """Every log line as the services' formatter writes it, formatted when it is emitted
    (in the task that logs it, as a process's log handler does)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("conformance"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def emitted() -> Iterator[EmittedLines]:
    handler = EmittedLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def echoing(conformance: Stack) -> AsyncIterator[Any]:
    async def arm(form: str, refuse: bool = False) -> None:
        body = {"form": form, "refuse": refuse}
        answer = await conformance.admin.put("/_sandbox/echo-secret", json=body)
        assert answer.status_code == 200, answer.text

    yield arm
    await conformance.admin.delete("/_sandbox/echo-secret")


async def xid_horizon(pool: Any) -> int:
    """The oldest transaction id in progress: every row a transaction in progress or begun
    since writes (inserts or updates) has an ``xmin`` at or above it."""
    return int(await pool.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text"))


async def database_text(pool: Any, secrets: Iterable[str], since: int = 0) -> str:
    """The rows of every table of a service's database written from ``since`` on
    (``xid_horizon``: what a case wrote, not the rows a worker's suite filled a shared
    database with; 0: every row) that hold a form of one of ``secrets`` as ``found_in``
    looks for it, as text: searched in the database, only the rows to report fetched."""
    needles = {
        n.lower() for s in secrets for f in forms_of(s) for n in (f, f.replace("\\", "\\\\"))
    }
    patterns = ["%" + re.sub(r"([\\%_])", r"\\\1", n) + "%" for n in sorted(needles)]
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    rows = [
        await pool.fetch(
            f'SELECT t::text FROM "{t["table_name"]}" t WHERE t.xmin::text::bigint >= $2'
            " AND lower(t::text) LIKE ANY ($1::text[])",
            patterns,
            since % 2**32,  # a row's xmin is the 32 bits of its transaction's id
        )
        for t in tables
    ]
    return "\n".join(row[0] for table in rows for row in table)


def secret_fields(connector: Connector) -> list[str]:
    return [f.name for f in connector.credential_fields if f.secret]


async def test_a_key_echoed_in_any_form_at_connect_reaches_no_answer_or_log(
    conformance: Stack,
    connector: Connector,
    driver: ShopDriver,
    echoing: Any,
    emitted: EmittedLines,
) -> None:
    skip_if_consented(connector)
    [shop] = await shops(conformance, driver)
    wrong = {f: mutated(shop.credentials[f]) for f in secret_fields(connector)}
    body = connect_body(connector, dict(shop.credentials) | wrong)
    await echoing(ALL)  # the key refused, quoted back in every form at once
    refused = await oauth_call(
        conformance, "POST", connector.marketplace, "connection", new_tenant(), json=body
    )
    assert refused.status_code == 422, refused.text
    seen = "\n".join([refused.text, *emitted.lines])
    leaks = {name: found_in(seen, value) for name, value in wrong.items()}
    assert leaks == {name: [] for name in wrong}
    assert any("refused" in line for line in emitted.lines)  # the refusals were logged


async def test_a_key_echoed_when_a_poll_is_refused_reaches_no_status_row_or_log(
    conformance: Stack,
    connector: Connector,
    driver: ShopDriver,
    echoing: Any,
    emitted: EmittedLines,
) -> None:
    [shop] = await shops(conformance, driver)
    sent = {f: shop.credentials[f] for f in secret_fields(connector)}
    pools = [conformance.poller.runtime.pool, conformance.oauth.runtime.pool]
    since = [await xid_horizon(pool) for pool in pools]  # the rows this case writes
    async with connected(conformance, connector, shop) as mine:
        first = await first_polled(conformance, mine)
        await echoing(ALL, refuse=True)  # every call refused, the shop's key quoted
        status = await failed_since(conformance, mine, first["lastErrorAt"], NEXT_POLL, asked=True)
        oauth_status = await oauth_call(
            conformance, "GET", connector.marketplace, "status", mine.tenant
        )
        seen = "\n".join(
            [
                repr(status),
                oauth_status.text,
                *[
                    await database_text(p, sent.values(), x)
                    for p, x in zip(pools, since, strict=True)
                ],
                *emitted.lines,
            ]
        )
    assert {name: found_in(seen, value) for name, value in sent.items()} == {
        name: [] for name in sent
    }
    # What an operator needs is kept: the call, its HTTP status, the marketplace's words.
    assert any("invalid request for this shop" in line for line in emitted.lines)
    assert "invalid request for this shop" in status["lastError"], status
