"""Numbered migrations: applied once, concurrently safe, edits detected."""

import asyncio

import asyncpg
import pytest
from keybuzz_shared.db import MigrationError, apply_migrations, create_pool


async def test_migrations_apply_once_even_when_run_concurrently(make_database, tmp_path):
    (tmp_path / "001_create.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    (tmp_path / "002_add.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    pool = await create_pool(await make_database("mig"))
    try:
        results = await asyncio.gather(*(apply_migrations(pool, "svc", tmp_path) for _ in range(4)))
        assert sorted(results, key=len) == [[], [], [], [1, 2]]
        assert await apply_migrations(pool, "svc", tmp_path) == []
        columns = await pool.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name='things'"
        )
        assert {c["column_name"] for c in columns} == {"id", "name"}
    finally:
        await pool.close()


async def test_edited_migration_is_refused(make_database, tmp_path):
    (tmp_path / "001_create.sql").write_text("CREATE TABLE t (id int);")
    pool = await create_pool(await make_database("mig"))
    try:
        await apply_migrations(pool, "svc", tmp_path)
        (tmp_path / "001_create.sql").write_text("CREATE TABLE t (id bigint);")
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await apply_migrations(pool, "svc", tmp_path)
    finally:
        await pool.close()


async def test_failed_migration_leaves_nothing_half_done(make_database, tmp_path):
    (tmp_path / "001_bad.sql").write_text("CREATE TABLE ok (id int); SELECT nope_function();")
    pool = await create_pool(await make_database("mig"))
    try:
        with pytest.raises(asyncpg.PostgresError):
            await apply_migrations(pool, "svc", tmp_path)
        assert await pool.fetchval("SELECT to_regclass('ok')") is None
        assert await pool.fetchval("SELECT count(*) FROM schema_migrations") == 0
    finally:
        await pool.close()


def test_badly_named_file_is_refused(tmp_path):
    from keybuzz_shared.db import read_migrations

    (tmp_path / "create.sql").write_text("")
    with pytest.raises(MigrationError, match="001_name.sql"):
        read_migrations(tmp_path)
