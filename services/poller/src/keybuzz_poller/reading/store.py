"""All SQL of reading (asyncpg): each tenant folder's read cursor; ``PostgresCursors``, its port."""

from __future__ import annotations

from keybuzz_shared.db import Executor

from keybuzz_poller.reading.ports import Cursor


async def get_cursor(db: Executor, tenant_id: str) -> tuple[int, int] | None:
    """(UIDVALIDITY, last UID read) of the tenant's folder, if it was ever read."""
    row = await db.fetchrow(
        "SELECT uid_validity, last_uid FROM poller_mail_cursors WHERE tenant_id = $1", tenant_id
    )
    return (row["uid_validity"], row["last_uid"]) if row else None


async def save_cursor(
    db: Executor, tenant_id: str, folder: str, uid_validity: int, last_uid: int
) -> None:
    await db.execute(
        """
        INSERT INTO poller_mail_cursors (tenant_id, folder, uid_validity, last_uid)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (tenant_id) DO UPDATE
            SET folder = EXCLUDED.folder, uid_validity = EXCLUDED.uid_validity,
                last_uid = EXCLUDED.last_uid, updated_at = now()
        """,
        tenant_id,
        folder,
        uid_validity,
        last_uid,
    )


class PostgresCursors:
    """``ports.CursorStore`` on ``db``: the pool, or a unit of work's connection."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def get_cursor(self, tenant_id: str) -> Cursor | None:
        saved = await get_cursor(self.db, tenant_id)
        return Cursor(*saved) if saved else None

    async def save_cursor(self, tenant_id: str, folder: str, cursor: Cursor) -> None:
        await save_cursor(self.db, tenant_id, folder, cursor.uid_validity, cursor.last_uid)
