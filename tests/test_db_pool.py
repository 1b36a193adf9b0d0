"""The shared pool: what a released connection keeps and what it does not."""

from __future__ import annotations

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
