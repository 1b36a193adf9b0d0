"""The rules every service shares, each defined once in keybuzz_shared (fast, no servers)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from keybuzz_devstack.testing import eventually
from keybuzz_shared.background import keep_lease
from keybuzz_shared.backoff import backoff_delay
from keybuzz_shared.connectors.shop_sessions import KeptSessions
from keybuzz_shared.events import new_event_id
from keybuzz_shared.ids import uuid7_string, uuid7_strings
from keybuzz_shared.pages import InvalidCursor, decode_cursor, encode_cursor, split_page
from keybuzz_shared.redaction import is_secret_name
from keybuzz_shared.text import is_storable, one_line, storable
from keybuzz_shared.times import as_utc


def test_backoff_doubles_from_base_up_to_the_cap() -> None:
    delays = [backoff_delay(attempt, base=2, cap=60) for attempt in range(1, 8)]
    assert delays == [2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(0, base=1, cap=5) == 1  # a first try counted as 0 waits the base
    assert backoff_delay(10_000, base=1, cap=5) == 5  # no overflow on a very long outage


def test_backoff_jitter_stays_between_half_and_all_of_the_delay() -> None:
    drawn = {backoff_delay(3, base=1, cap=60, jitter=True) for _ in range(200)}
    assert all(2 <= delay <= 4 for delay in drawn)
    assert len(drawn) > 100  # spread, not one value


async def test_a_lease_is_renewed_every_quarter_lease_even_past_a_failure() -> None:
    loop = asyncio.get_running_loop()
    renewed: list[float] = []
    errors: list[Exception] = []
    lease = 2.0

    async def renew() -> None:
        renewed.append(loop.time())
        if len(renewed) == 2:
            raise ConnectionError("the database is down")

    keeper = asyncio.create_task(keep_lease(lease, renew, at_once=True, on_error=errors.append))
    await asyncio.sleep(0)  # the task's first step, before any wait of its own
    assert len(renewed) == 1  # at once

    async def four_renewals() -> bool:
        return len(renewed) >= 4

    await eventually(four_renewals)
    keeper.cancel()
    gaps = [b - a for a, b in zip(renewed, renewed[1:], strict=False)]
    # Never sooner than a quarter lease; four a lease, not two: renewals half a lease apart
    # would leave every gap at 1 s or more, and a busy machine only lengthens a gap, so the
    # shortest of three stays near 0.5 s.
    assert all(gap >= lease / 4 - 0.01 for gap in gaps) and min(gaps) < lease / 2
    assert [str(e) for e in errors] == ["the database is down"]
    assert gaps[1] < lease  # the renewal after the failure came before the lease lapsed


def test_a_time_without_a_zone_is_utc_and_one_with_a_zone_is_the_same_instant() -> None:
    assert as_utc(datetime(2026, 11, 22, 8, 0)) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    paris = datetime(2026, 11, 22, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    assert as_utc(paris) == paris and as_utc(paris).tzinfo == UTC


@pytest.mark.parametrize(
    "name",
    [
        "refresh_token",
        "refreshToken",
        "lwa_refresh_token",
        "X-Amz-Access-Token",
        "VAULT_TOKEN",
        "client_secret",
        "vault_secret_id",
        "internal_api_key",
        "X-Internal-Key",
        "smtp_relay_password",
        "Authorization",
        "spapi_oauth_code",
        "jwt_secret",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["next_token", "nextToken", "tenant_id", "token_count_total", "email"]
)
def test_names_that_are_not_secrets(name: str) -> None:
    assert not is_secret_name(name)


def test_a_page_says_there_is_more_only_when_there_is() -> None:
    assert split_page([1, 2, 3], 3) == ([1, 2, 3], None)  # exactly full: the last page
    assert split_page([1, 2, 3, 4], 3) == ([1, 2, 3], 3)
    assert split_page([], 3) == ([], None)


def test_cursor_round_trip_and_refusals() -> None:
    moment = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    position = decode_cursor(encode_cursor(moment, "ticket-1"))
    assert (position.at, position.id) == (moment, "ticket-1")
    for bad in ["", "not base64!", encode_cursor(moment, "")[:-3], "W10"]:
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)

    def must_be_digits(value: str) -> str:
        if not value.isdigit():
            raise ValueError(value)
        return value

    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(moment, "abc"), id_check=must_be_digits)
    assert decode_cursor(encode_cursor(moment, "42"), id_check=must_be_digits).id == "42"


def test_text_postgresql_can_store_and_text_shown_on_one_line() -> None:
    assert is_storable("café ☕ \n") and storable("café ☕") == "café ☕"
    assert not is_storable("a\x00b") and storable("a\x00b") == "a\ufffdb"
    assert not is_storable("a\ud800b") and storable("a\ud800b") == "a?b"
    # a surrogate pair in a str is two lone surrogates to PostgreSQL; the character it
    # stands for is storable
    assert not is_storable("\ud83d\ude00") and is_storable("\U0001f600")
    assert one_line("a\nb\x00c\ud800d") == "a b c d"


@pytest.mark.parametrize(
    "text",
    ["", "plain", "a\x00b\x00", "é", "é\x00", "\ud800", "é\udfff\x00z", "☕" * 50 + "\ud83d"],
)
def test_storable_gives_what_utf_8_replacement_gives_on_ascii_and_not(text: str) -> None:
    assert storable(text) == text.encode("utf-8", "replace").decode().replace("\x00", "\ufffd")


def test_batched_uuids_are_distinct_ascending_version_7_rfc_9562_in_canonical_form() -> None:
    before = time.time_ns() // 1_000_000
    ids = uuid7_strings(10_000)  # past the 4,096 the counter holds
    after = time.time_ns() // 1_000_000
    assert len(ids) == 10_000 and len(set(ids)) == 10_000
    assert ids == sorted(ids)  # what puts their rows at the end of an index
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # lower-case, hyphenated: what str(uuid.UUID) writes
        assert before <= parsed.int >> 80 <= after + 2  # Unix milliseconds (+1 a 4,096)
    # The 62 random bits (rand_b) are random: each is set in some ids and clear in others.
    ints = [uuid.UUID(text).int for text in ids[:1000]]
    assert all(any(i >> bit & 1 for i in ints) for bit in range(62))
    assert all(not all(i >> bit & 1 for i in ints) for bit in range(62))
    assert uuid7_strings(0) == [] and uuid7_string() != uuid7_string()
    assert uuid.UUID(new_event_id()).version == 7


def test_a_shops_session_is_kept_until_its_credentials_change() -> None:
    sessions: KeptSessions[object] = KeptSessions()
    made: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    first = sessions.on("t1", {"key": "k1"}, make)
    assert sessions.on("t1", {"key": "k1"}, make) is first and len(made) == 1
    rotated = sessions.on("t1", {"key": "k2"}, make)
    assert rotated is not first and len(made) == 2
    assert sessions.last("t1") == ({"key": "k2"}, rotated) and sessions.last("t2") is None
