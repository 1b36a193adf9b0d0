"""Scratch databases with migrations applied: copies of a template made once per set of them."""

import asyncio

import asyncpg
import pytest
from keybuzz_devstack.bootstrap import create_scratch_database
from keybuzz_shared.db import apply_migrations, create_pool


async def _templates(server: str) -> set[str]:
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datistemplate")
    finally:
        await conn.close()
    return {r["datname"] for r in rows} - {"template0", "template1"}


async def test_databases_asked_at_once_are_copies_of_one_template(postgres_url, tmp_path):
    (tmp_path / "001_create.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    migrations = {"svc": tmp_path}
    before = await _templates(postgres_url)
    urls = await asyncio.gather(
        *(create_scratch_database(postgres_url, "copy", migrations) for _ in range(5))
    )
    assert len(await _templates(postgres_url) - before) == 1
    pools = [await create_pool(url) for url in urls]
    try:
        for pool in pools:
            # Migrated already: a service's start applies nothing more.
            assert await apply_migrations(pool, "svc", tmp_path) == []
        await pools[0].execute("INSERT INTO things VALUES (1)")
        assert [await pool.fetchval("SELECT count(*) FROM things") for pool in pools] == [
            1,
            0,
            0,
            0,
            0,
        ]
    finally:
        for pool in pools:
            await pool.close()


async def test_a_migration_added_makes_a_template_of_its_own(postgres_url, tmp_path):
    (tmp_path / "001_create.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    await create_scratch_database(postgres_url, "before", {"svc": tmp_path})
    (tmp_path / "002_add.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    pool = await create_pool(
        await create_scratch_database(postgres_url, "after", {"svc": tmp_path})
    )
    try:
        assert await apply_migrations(pool, "svc", tmp_path) == []
        await pool.execute("INSERT INTO things (id, name) VALUES (1, 'one')")
    finally:
        await pool.close()


async def test_a_failed_template_is_made_again_once_the_migration_is_fixed(postgres_url, tmp_path):
    (tmp_path / "001_bad.sql").write_text("CREATE TABLE ok (id int); SELECT nope_function();")
    with pytest.raises(asyncpg.PostgresError):
        await create_scratch_database(postgres_url, "bad", {"svc": tmp_path})
    (tmp_path / "001_bad.sql").write_text("CREATE TABLE ok (id int);")
    pool = await create_pool(
        await create_scratch_database(postgres_url, "fixed", {"svc": tmp_path})
    )
    try:
        assert await pool.fetchval("SELECT count(*) FROM ok") == 0
    finally:
        await pool.close()


async def test_without_migrations_the_database_is_empty(make_database):
    pool = await create_pool(await make_database("empty"))
    try:
        tables = await pool.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        assert tables == 0
    finally:
        await pool.close()
