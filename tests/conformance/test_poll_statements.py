"""The conformance suite: what a poll with nothing new costs PostgreSQL, for every shop-API
connector. A seller's shops are polled around the clock and most polls find nothing: each
statement such a poll runs is paid by every connected shop every interval (docs/BENCHMARKS.md,
``bench_poll_floor``). Counted from the poller's own pool, against the session's PostgreSQL:
every statement whose arguments name the shop (its tenant or its poll key), from the end of
one of its polls to the end of a later one, while the poller polls it on its own. The
scheduler's claim names no shop (it leases a batch and reads each shop's start): it is not
counted here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from keybuzz_sandbox.conformance import ShopDriver
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import Stack, connected
from tests.conformance.test_shop_api_connectors import first_polled, shops
from tests.stack_fixture import wait_for

# PostgreSQL's statements of its shop a poll that finds nothing new may run: its end recorded
# (its start read by the claim that leased it, which also reserves its calls of a daily
# allowance, as the last poll's end asked).
MOST_STATEMENTS = 1
POLLS_COUNTED = 1  # one lean poll proves the bound: waiting for a second cost an interval
POLL_ENDED = "last_success_at = now()"  # the schedule's poll_succeeded
POLL_ENDS = (POLL_ENDED, "last_error_at = now()")  # and its poll_failed
LEASE_KEPT = "UPDATE poller_shops SET lease_expires_at"
# Not there yet (issue 66), by what the poll's schedule counts beyond its two.
# Strict: once one holds, it fails until taken off this list.
NOT_YET: dict[str, str] = {}


def _names(value: Any, tenant: str) -> bool:
    if isinstance(value, str):
        return tenant in value
    if isinstance(value, list | tuple):
        return any(_names(v, tenant) for v in value)
    return False


class ShopStatements:
    """The statements the poller's pool sends whose arguments name ``tenant``."""

    def __init__(self, pool: asyncpg.Pool, tenant: str) -> None:
        self.pool, self.tenant = pool, tenant
        self.sent: list[str] = []
        self.listening: set[int] = set()

    def listen(self) -> None:
        """Follows every connection the pool holds now (the pool opens more under load:
        called again at each check)."""
        for holder in self.pool._holders:  # no public list of a pool's connections
            connection = holder._con
            if connection is None or id(connection) in self.listening:
                continue
            self.listening.add(id(connection))
            connection.add_query_logger(self._logged)

    def _logged(self, record: Any) -> None:
        if _names(record.args, self.tenant):
            self.sent.append(" ".join(record.query.split()))

    def polls(self) -> list[list[str]]:
        """The statements of each poll that followed a poll that succeeded and succeeded
        itself, while listening (the first, cut, left out): a poll cut at its deadline on a
        busy machine, and the one after it, are not polls that find the shop as they
        left it."""
        ends = [n for n, query in enumerate(self.sent) if any(e in query for e in POLL_ENDS)]
        return [
            self.sent[a + 1 : b + 1]
            for a, b in zip(ends, ends[1:], strict=False)
            if POLL_ENDED in self.sent[a] and POLL_ENDED in self.sent[b]
        ]


async def test_a_poll_with_nothing_new_runs_one_statement_of_its_shop(
    conformance: Stack, connector: Connector, driver: ShopDriver, request: pytest.FixtureRequest
) -> None:
    if connector.marketplace in NOT_YET:
        why = NOT_YET[connector.marketplace]
        request.applymarker(pytest.mark.xfail(strict=True, reason=why))
    [shop] = await shops(conformance, driver)
    async with connected(conformance, connector, shop) as mine:
        await first_polled(conformance, mine)  # its history read: later polls find nothing
        statements = ShopStatements(conformance.poller.runtime.pool, mine.tenant)

        def lean() -> list[list[str]]:
            return [p for p in statements.polls() if len(_poll_work(p)) <= MOST_STATEMENTS]

        async def counted() -> bool | None:
            statements.listen()
            await asyncio.sleep(0)
            if connector.marketplace in NOT_YET:  # its first polls tell, as they are
                return len(statements.polls()) >= POLLS_COUNTED or None
            # A busy machine may send a poll down the full path (its page not found as the
            # last poll left it): correct, not lean; the lean ones are waited for.
            return len(lean()) >= POLLS_COUNTED or None

        try:
            await wait_for(counted, None, f"{POLLS_COUNTED} polls of the shop counted")
        except AssertionError as exc:  # what the polls that were counted ran, to read why
            polls = statements.polls()
            ran = [len(_poll_work(p)) for p in polls]
            last = "\n".join(q[:160] for q in _poll_work(polls[-1])) if polls else ""
            raise AssertionError(
                f"{exc}; statements of each poll counted: {ran}; the last one's:\n{last}"
            ) from None
    for poll in statements.polls()[:POLLS_COUNTED]:
        if connector.marketplace in NOT_YET:
            assert len(_poll_work(poll)) <= MOST_STATEMENTS, "\n".join(poll)
    assert len(lean()) >= POLLS_COUNTED


def _poll_work(poll: list[str]) -> list[str]:
    """A poll's statements but its lease's renewals (a long poll on a busy machine keeps
    its lease: the schedule's, not the poll's work)."""
    return [q for q in poll if not q.startswith(LEASE_KEPT)]
