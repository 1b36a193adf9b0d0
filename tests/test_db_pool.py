"""The shared pool: what a released connection keeps and what it does not."""

from __future__ import annotations

import re
from pathlib import Path

from keybuzz_shared.db import create_pool


async def test_a_transaction_left_open_is_rolled_back_when_its_connection_is_released(
    make_database,
) -> None:
    pool = await create_pool(await make_database("pool"), min_size=1, max_size=1)
    try:
        await pool.execute("CREATE TABLE kept (id int)")
        async with pool.acquire() as connection:
            await connection.execute("BEGIN")  # not a managed transaction: never committed
            await connection.execute("INSERT INTO kept VALUES (1)")
        async with pool.acquire() as connection:  # the same one (max_size=1)
            assert not connection.is_in_transaction()
            assert await connection.fetchval("SELECT count(*) FROM kept") == 0
            async with connection.transaction():  # and a new transaction starts cleanly
                await connection.execute("INSERT INTO kept VALUES (2)")
        assert await pool.fetchval("SELECT count(*) FROM kept") == 1
    finally:
        await pool.close()


async def test_a_released_connection_is_not_reset_when_nothing_was_left_open(
    make_database,
) -> None:
    """No reset query per release (a round trip each): session state would survive it, and
    our code keeps none on a pool connection (docs/SERVICE_FRAME.md)."""
    pool = await create_pool(await make_database("pool"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            await connection.execute("SET application_name = 'left-by-a-caller'")
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW application_name") == "left-by-a-caller"
    finally:
        await pool.close()


# What a released connection would carry to its next user, with no reset query to clear
# it: a session's advisory lock (held until the connection closes: another instance's
# lock waits forever), a LISTEN (notifications for someone else), a setting set for the
# session. Where the services take one, and why each is safe.
SESSION_STATE = re.compile(
    r"pg_advisory_lock(_shared)?\(|\bLISTEN\b|add_listener\(|set_config\([^)]*,\s*false\s*\)"
)
ALLOWED = {
    # The migrations' lock, on the pool connection that applies them: unlocked in a
    # ``finally`` before the connection is released.
    "shared/src/keybuzz_shared/db.py",
    # The poller's due listener: a connection of its own (``asyncpg.connect``), never the
    # pool's.
    "services/poller/src/keybuzz_poller/polling/wakeups.py",
}


def test_no_code_leaves_session_state_on_a_pool_connection() -> None:
    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("shared/src/**/*.py"), *root.glob("services/*/src/**/*.py")]
    sources += root.glob("connectors/*/src/**/*.py")
    found = {
        str(path.relative_to(root))
        for path in sources
        if SESSION_STATE.search(path.read_text(encoding="utf-8"))
    }
    assert len(sources) > 100 and found <= ALLOWED, found - ALLOWED
