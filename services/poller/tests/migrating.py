"""A database as the poller's migrations left it before one of them, to write the rows
that migration meets and then run it (``test_*_migration.py``)."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from keybuzz_poller.service import DEFINITION
from keybuzz_shared.db import apply_migrations, create_pool


async def migrated_before(
    make_database: Callable[[str], Awaitable[str]], folder: Path, number: int
) -> asyncpg.Pool:
    """A new database with the migrations before ``number`` applied from ``folder``."""
    for path in sorted(DEFINITION.migrations.glob("*.sql")):
        if int(path.name[:3]) < number:
            shutil.copy(path, folder)
    pool = await create_pool(await make_database(f"before-{number:03}"))
    await apply_migrations(pool, "poller", folder)
    return pool


async def apply_migration(pool: asyncpg.Pool, folder: Path, name: str) -> list[int]:
    """Migration ``name`` applied after those in ``folder``: the numbers applied."""
    shutil.copy(DEFINITION.migrations / name, folder)
    return await apply_migrations(pool, "poller", folder)
