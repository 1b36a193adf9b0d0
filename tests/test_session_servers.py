"""The session's servers stop together: each asked first (its fixture's end), all waited
for last (``session_servers``), so a worker's last test carries the slowest stop, not their
sum; the session's PostgreSQL, whose data is thrown away, stops without a checkpoint."""

from __future__ import annotations

from pathlib import Path

from keybuzz_devstack import infra
from keybuzz_devstack.testing import asked_to_stop, session_postgres_spec


def test_servers_asked_to_stop_together_are_all_gone_once_waited_for(
    server_root: Path, nats_users: dict[str, str]
) -> None:
    postgres = session_postgres_spec(server_root)
    nats = infra.nats_spec(server_root / "nats", infra.free_port(), users=nats_users)
    servers = [
        infra.RunningServer(spec, server_root / f"{spec.name}.log").start(timeout=60)
        for spec in (postgres, nats)
    ]
    asked: list[infra.RunningServer] = []
    for server in servers:
        asked_to_stop(server, asked)
    assert asked == servers
    for server in asked:
        server.wait_stopped()
    for server in servers:
        assert server.process is not None and server.process.poll() is not None, server.spec.name
        assert not infra.port_open(server.spec.port), server.spec.name
    log = servers[0].log_path.read_text()
    assert "immediate shutdown request" in log and "checkpoint starting: shutdown" not in log
