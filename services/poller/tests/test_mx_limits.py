"""The MX's session limits, over real SMTP: caps (421), timeouts, DATA spooled, not held in memory."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_poller.reading.mailbox import ImapAccount
from keybuzz_poller.reading.relay_mail import parse
from keybuzz_poller.service import DEFINITION
from mailkit import folder, new_tenant, relay_mail, send, synced
from mx_client import RawSmtp, limit_hits, limit_logs, mx_metrics

Start = Callable[..., Awaitable[RunningService]]


async def limited_poller(
    start_service: Start, dovecot: MailServer, **limits: str
) -> RunningService:
    return await start_service(DEFINITION, POLL_ENABLED="false", **limits, **dovecot.settings)


async def test_sessions_beyond_either_cap_get_421_and_are_closed(
    start_service: Start, dovecot: MailServer, imap: ImapAccount, caplog: pytest.LogCaptureFixture
) -> None:
    poller = await limited_poller(
        start_service, dovecot, MX_MAX_SESSIONS="3", MX_MAX_SESSIONS_PER_CLIENT="2"
    )
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    caplog.set_level(logging.WARNING, logger="keybuzz_poller.inbound")
    before = await mx_metrics(poller)
    first = [await (await RawSmtp.connect(poller)).greeted() for _ in range(2)]

    for _ in range(5):  # a third session from the same client, five times
        third_from_same_client = await RawSmtp.connect(poller)
        code, text = await third_from_same_client.reply()
        assert (code, text) == (421, "4.7.0 Too many connections, try again later")
        assert await third_from_same_client.closed_by_mx()

    other_client = await (await RawSmtp.connect(poller, source="127.0.0.2")).greeted()
    over_instance = await RawSmtp.connect(poller, source="127.0.0.3")
    assert (await over_instance.reply())[0] == 421
    assert await over_instance.closed_by_mx()

    metrics = await mx_metrics(poller)
    assert (
        limit_hits(metrics, "sessions_per_client") - limit_hits(before, "sessions_per_client") == 5
    )
    assert (
        limit_hits(metrics, "sessions_per_instance") - limit_hits(before, "sessions_per_instance")
        == 1
    )
    assert metrics[("keybuzz_poller_mx_sessions", "")] == 3
    # Counted each time, logged once: a flood of refused connections does not flood the logs.
    [log] = limit_logs(caplog.records, "sessions_per_client")
    assert (log.client, log.hits) == ("127.0.0.1", 1)
    assert len(limit_logs(caplog.records, "sessions_per_instance")) == 1

    # A closed session frees its place: mail flows again.
    first[0].close()
    other_client.close()

    async def accepted() -> bool:
        try:
            await send(poller, relay_mail(address, "after the flood"), address)
        except Exception:
            return False
        return True

    await eventually(accepted)
    assert [parse(m.raw).text for m in (await folder(imap, tenant)).mails] == ["after the flood"]
    first[1].close()


async def test_idle_sessions_and_long_sessions_are_ended_with_421(
    start_service: Start, dovecot: MailServer, caplog: pytest.LogCaptureFixture
) -> None:
    poller = await limited_poller(
        start_service, dovecot, MX_IDLE_TIMEOUT_SECONDS="1", MX_SESSION_TIMEOUT_SECONDS="3"
    )
    caplog.set_level(logging.WARNING, logger="keybuzz_poller.inbound")
    loop = asyncio.get_running_loop()
    before = await mx_metrics(poller)

    idle = await (await RawSmtp.connect(poller)).greeted()
    started = loop.time()
    assert await idle.reply(within=5) == (421, "4.4.2 Session timed out, closing")
    assert await idle.closed_by_mx()
    # Ended by the idle limit, not sooner, and not by the session's (which says so).
    assert loop.time() - started > 0.8
    idled = await mx_metrics(poller)
    assert limit_hits(idled, "idle_timeout") - limit_hits(before, "idle_timeout") == 1
    assert limit_hits(idled, "session_timeout") == limit_hits(before, "session_timeout")

    # Every command resets the idle timer, not the session's: NOOPs keep it for 3 s only.
    busy = await (await RawSmtp.connect(poller)).greeted()
    started = loop.time()
    answers = []
    for _ in range(20):  # 8 s of NOOPs if nothing ended the session
        answers.append((await busy.command("NOOP"))[0])
        if answers[-1] != 250:
            break
        await asyncio.sleep(0.4)
    assert answers[-1] == 421 and set(answers[:-1]) == {250}
    assert loop.time() - started > 2.5  # past the idle limit: each NOOP reset its timer

    metrics = await mx_metrics(poller)
    assert limit_hits(metrics, "idle_timeout") - limit_hits(before, "idle_timeout") == 1
    assert limit_hits(metrics, "session_timeout") - limit_hits(before, "session_timeout") == 1
    assert len(limit_logs(caplog.records, "session_timeout")) == 1


async def test_a_slow_data_transfer_is_not_idle_while_bytes_arrive(
    start_service: Start, dovecot: MailServer, imap: ImapAccount
) -> None:
    poller = await limited_poller(start_service, dovecot, MX_IDLE_TIMEOUT_SECONDS="1")
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    smtp = await (await RawSmtp.connect(poller)).greeted()
    assert (await smtp.command("MAIL FROM:<bounces@amazonses.com>"))[0] == 250
    assert (await smtp.command(f"RCPT TO:<{address}>"))[0] == 250
    assert (await smtp.command("DATA"))[0] == 354
    lines = relay_mail(address, "slow").as_bytes().replace(b"\n", b"\r\n").splitlines(True)
    for line in lines:  # about 3 s in all, never 1 s without a byte
        smtp.send(line)
        await asyncio.sleep(3 / len(lines))
    assert (await smtp.command(".")) == (250, "2.0.0 OK: delivered")
    assert [parse(m.raw).text for m in (await folder(imap, tenant)).mails] == ["slow"]


def _rss_bytes() -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match.group(1)) * 1024


def _open_files_in(directory: Path) -> list[int]:
    """Sizes of the files this process holds open in ``directory`` (spool files are unlinked)."""
    sizes = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(directory)):
                sizes.append(os.fstat(int(fd)).st_size)
        except OSError:
            continue
    return sizes


async def test_concurrent_large_transfers_are_spooled_not_held_in_memory(
    start_service: Start, dovecot: MailServer, tmp_path: Path
) -> None:
    transfers, per_transfer = 8, 6 * 1024 * 1024
    poller = await limited_poller(
        start_service,
        dovecot,
        MX_SPOOL_DIR=str(tmp_path),
        MX_MAX_MESSAGE_BYTES=str(per_transfer + 1024 * 1024),
    )
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    line = b"x" * 998 + b"\r\n"
    chunk = line * 64
    baseline = _rss_bytes()

    async def unfinished_transfer() -> RawSmtp:
        smtp = await (await RawSmtp.connect(poller)).greeted()
        assert (await smtp.command("MAIL FROM:<bounces@amazonses.com>"))[0] == 250
        assert (await smtp.command(f"RCPT TO:<{address}>"))[0] == 250
        assert (await smtp.command("DATA"))[0] == 354
        for _ in range(per_transfer // len(chunk)):
            smtp.send(chunk)
            await smtp.writer.drain()
        return smtp  # no final dot: the MX holds what it received

    sessions = await asyncio.gather(*(unfinished_transfer() for _ in range(transfers)))
    sent = transfers * (per_transfer // len(chunk)) * len(chunk)

    async def all_received() -> bool:
        metrics = await mx_metrics(poller)
        return metrics[("keybuzz_poller_mx_data_bytes_in_flight", "")] >= sent

    await eventually(all_received)
    grown = _rss_bytes() - baseline
    # Held in memory, 8 x 6 MB would be 48 MB and more; spooled, a few buffers.
    assert grown < 16 * 1024 * 1024, f"RSS grew by {grown / 2**20:.0f} MiB"
    spooled = _open_files_in(tmp_path)
    assert len(spooled) == transfers and min(spooled) > per_transfer // 2

    for smtp in sessions:
        smtp.close()

    async def released() -> bool:
        metrics = await mx_metrics(poller)
        gone = metrics[("keybuzz_poller_mx_data_bytes_in_flight", "")] == 0
        return gone and _open_files_in(tmp_path) == []

    await eventually(released)


async def test_data_past_the_size_limit_is_read_and_dropped_never_spooled(
    start_service: Start, dovecot: MailServer, imap: ImapAccount, tmp_path: Path
) -> None:
    limit, sent_lines = 256 * 1024, 4096
    poller = await limited_poller(
        start_service,
        dovecot,
        MX_SPOOL_DIR=str(tmp_path),
        MX_SPOOL_MEMORY_BYTES="4096",  # the spool is a file soon: its size is on disk
        MX_MAX_MESSAGE_BYTES=str(limit),
    )
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    smtp = await (await RawSmtp.connect(poller)).greeted()
    assert (await smtp.command("MAIL FROM:<bounces@amazonses.com>"))[0] == 250
    assert (await smtp.command(f"RCPT TO:<{address}>"))[0] == 250
    assert (await smtp.command("DATA"))[0] == 354
    line = b"y" * 998 + b"\r\n"
    for _ in range(sent_lines):  # 4 MB, 16 times the limit, no final dot yet
        smtp.send(line)
        await smtp.writer.drain()

    async def all_read() -> bool:
        metrics = await mx_metrics(poller)
        return metrics[("keybuzz_poller_mx_data_bytes_in_flight", "")] >= sent_lines * len(line)

    await eventually(all_read)
    [spooled] = _open_files_in(tmp_path)
    assert 4096 < spooled <= limit  # what fits, kept; the rest read and dropped

    assert await smtp.command(".") == (552, "5.3.4 Message too big for system")
    assert _open_files_in(tmp_path) == []
    smtp.close()
    assert (await folder(imap, tenant)).mails == []
