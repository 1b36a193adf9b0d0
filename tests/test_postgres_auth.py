"""The development PostgreSQL (devstack's, the tests' and the benches') asks for a password:
nothing is anonymous, the development stack included. A data directory an older devstack
made with ``trust`` is moved over to passwords when it is next started."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from keybuzz_devstack import infra
from keybuzz_shared.settings import DEV_POSTGRES_PASSWORD


def _with_password(url: str, password: str | None) -> str:
    parts = urlsplit(url)
    user = "postgres" if password is None else f"postgres:{password}"
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}:{parts.port}"))


async def _refused(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except asyncpg.InvalidPasswordError:
        return True
    await conn.close()
    return False


async def test_the_tests_postgres_refuses_no_password_and_a_wrong_one(postgres_url: str) -> None:
    assert await _refused(f"{_with_password(postgres_url, None)}/postgres")
    assert await _refused(f"{_with_password(postgres_url, 'not-the-password')}/postgres")
    conn = await asyncpg.connect(f"{postgres_url}/postgres")  # the devstack's URL: accepted
    try:
        assert await conn.fetchval("SHOW password_encryption") == "scram-sha-256"
    finally:
        await conn.close()


def _made_with_trust(data: Path) -> None:
    """A data directory as devstacks made them before passwords (initdb ``--auth=trust``)."""
    data.mkdir(parents=True)
    user = infra.postgres_user()
    if user:
        infra._make_traversable(data.parent)
        shutil.chown(data, user)
    made = subprocess.run(
        [infra.postgres_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        capture_output=True,
        text=True,
        check=False,
        **infra.as_user(user),
    )
    assert made.returncode == 0, made.stderr


def _hba_methods(data: Path) -> set[str]:
    lines = (data / "pg_hba.conf").read_text().splitlines()
    return {line.split()[-1] for line in lines if line.strip() and not line.startswith("#")}


async def test_a_data_directory_made_with_trust_is_moved_to_passwords(server_root: Path) -> None:
    data = server_root / "old" / "data"
    await asyncio.to_thread(_made_with_trust, data)
    assert "trust" in _hba_methods(data)
    spec = await asyncio.to_thread(infra.postgres_spec, data, infra.free_port())  # as `make up`
    assert _hba_methods(data) == {"scram-sha-256"}
    server = infra.RunningServer(spec, server_root / "pg.log")
    await asyncio.to_thread(server.start, 60)
    try:
        assert await _refused(f"{_with_password(spec.url, None)}/postgres")
        conn = await asyncpg.connect(f"{spec.url}/postgres", timeout=10)
        await conn.close()
        assert urlsplit(spec.url).password == DEV_POSTGRES_PASSWORD
    finally:
        await asyncio.to_thread(server.stop)


def test_only_a_lines_method_is_changed_never_a_name_or_a_comment() -> None:
    line = "host trust trust 127.0.0.1/32 trust # trust me\n"
    assert (
        infra._with_password_method(line)
        == "host trust trust 127.0.0.1/32 scram-sha-256 # trust me\n"
    )
    assert (
        infra._with_password_method("host all trust ::1/128 md5\n")
        == "host all trust ::1/128 md5\n"
    )
