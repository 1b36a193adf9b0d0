"""The MX's memory under concurrent maximum-size transfers (docs/SECURITY.md, "The MX's limits").

A poller runs as a process of its own (``python -m keybuzz_poller``, polling off), so its
RSS is the MX's and nothing else's, against a Dovecot of its own. Measured, in one run:

1. idle: the process's RSS once it has started and delivered one small mail;
2. ``BENCH_MX_TRANSFERS`` (default 50) SMTP sessions at once, each sending a mail of
   ``MX_MAX_MESSAGE_BYTES`` (default 25 MiB) and holding it before the final dot (what a
   stranger who never finishes does), then all finishing: delivered over LMTP;
3. the process's peak RSS over both (VmHWM, reset after the idle reading), and its RSS
   once every session has ended.

Run by hand: ``.venv/bin/python -m bench bench_mx_memory`` (about a minute here; it
writes 2 x 1.25 GB to a temporary directory: the spool, then Dovecot's copy).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import uuid
from pathlib import Path

import httpx
import nats
from keybuzz_devstack import dovecot, infra
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_shared.events import encode_event, event_headers

from bench.harness import BenchContext, Figure, tenant_synced

TRANSFERS = int(os.environ.get("BENCH_MX_TRANSFERS", "50"))
MAX_MESSAGE_BYTES = 25 * 1024 * 1024  # the poller's default MX_MAX_MESSAGE_BYTES
LINE = b"x" * 998 + b"\r\n"
CHUNK = LINE * 64
DOMAIN = "inbound.keybuzz.test"


def _memory(pid: int, field: str) -> float:
    """VmRSS or VmHWM of the process, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"{field}:\s+(\d+) kB", status)
    assert match, field
    return int(match.group(1)) / 1024


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux 4.0+)


class Smtp:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, to: str) -> Smtp:
        smtp = cls(*await asyncio.open_connection("127.0.0.1", port))
        await smtp.expect(220)
        for command, code in (
            ("EHLO bench.example", 250),
            ("MAIL FROM:<bounces@amazonses.com>", 250),
            (f"RCPT TO:<{to}>", 250),
            ("DATA", 354),
        ):
            smtp.writer.write(command.encode() + b"\r\n")
            await smtp.expect(code)
        return smtp

    async def expect(self, code: int) -> None:
        while True:
            line = await self.reader.readline()
            assert line[:3] == str(code).encode(), line
            if line[3:4] != b"-":
                return

    async def send_mail(self, to: str, size: int) -> None:
        """A mail of about ``size`` bytes, without the final dot."""
        header = f"From: b@marketplace.amazon.fr\r\nTo: {to}\r\nSubject: big\r\n\r\n"
        self.writer.write(header.encode())
        for _ in range((size - len(header) - 1024) // len(CHUNK)):
            self.writer.write(CHUNK)
            await self.writer.drain()

    async def finish(self) -> None:
        self.writer.write(b".\r\n")
        await self.expect(250)
        self.writer.write(b"QUIT\r\n")
        self.writer.close()


async def _poller(ctx: BenchContext, environ: dict[str, str]) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "keybuzz_poller", env={**os.environ, **environ}
    )
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(600):
            try:
                if (await http.get(f"http://127.0.0.1:{environ['POLLER_PORT']}/health")).is_success:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError("the poller did not start")


async def _make_known(ctx: BenchContext, tenant_id: str, address: str, mx_port: int) -> None:
    nc = await nats.connect(ctx.nats_url)
    event = tenant_synced(tenant_id, address)
    await nc.jetstream().publish(event.type, encode_event(event), headers=event_headers(event))
    await nc.close()
    for _ in range(300):  # until the MX accepts the address: one small mail delivered
        try:
            smtp = await Smtp.open(mx_port, address)
        except AssertionError:
            await asyncio.sleep(0.1)
            continue
        await smtp.send_mail(address, 4096)
        await smtp.finish()
        return
    raise RuntimeError("the poller never learnt the address")


async def run(ctx: BenchContext) -> list[Figure]:
    imap_port, lmtp_port = infra.free_port(), infra.free_port()
    spec = dovecot.dovecot_spec(ctx.root / "mx-dovecot", imap_port, lmtp_port, fsync=False)
    server = infra.RunningServer(spec, ctx.root / "mx-dovecot.log").start(timeout=60)
    try:
        return await _measure(ctx, lmtp_port, imap_port)
    finally:
        server.stop()


async def _measure(ctx: BenchContext, lmtp_port: int, imap_port: int) -> list[Figure]:
    mx_port = infra.free_port()
    environ = {
        "NATS_URL": ctx.nats_url,
        "DATABASE_URL": await ctx.make_database("mx"),
        "VAULT_ADDR": ctx.vault_addr,
        "VAULT_TOKEN": DEV_VAULT_ROOT_TOKEN,
        "LOG_LEVEL": "WARNING",
        "POLLER_PORT": str(infra.free_port()),
        "MX_PORT": str(mx_port),
        "MX_SPOOL_DIR": str(ctx.root),
        "POLL_ENABLED": "false",
        "REPLY_SENDER_ENABLED": "false",
        "LMTP_PORT": str(lmtp_port),
        "IMAP_PORT": str(imap_port),
        "IMAP_PASSWORD": dovecot.DEV_IMAP_PASSWORD,
    }
    process = await _poller(ctx, environ)
    try:
        tenant_id = f"bench{uuid.uuid4().hex[:8]}"
        address = f"amazon.{tenant_id}.fr.{uuid.uuid4().hex[:16]}@{DOMAIN}"
        await _make_known(ctx, tenant_id, address, mx_port)
        await asyncio.sleep(1)
        idle = _memory(process.pid, "VmRSS")
        _reset_peak(process.pid)
        start = time.perf_counter()
        sessions = await asyncio.gather(*(Smtp.open(mx_port, address) for _ in range(TRANSFERS)))
        await asyncio.gather(*(s.send_mail(address, MAX_MESSAGE_BYTES) for s in sessions))
        await asyncio.sleep(2)  # the MX reads what is still in flight
        held = _memory(process.pid, "VmRSS")
        await asyncio.gather(*(s.finish() for s in sessions))
        seconds = time.perf_counter() - start
        await asyncio.sleep(1)
        peak = _memory(process.pid, "VmHWM")
        after = _memory(process.pid, "VmRSS")
    finally:
        process.terminate()
        await process.wait()
    what = f"{TRANSFERS} concurrent {MAX_MESSAGE_BYTES // 2**20} MiB transfers"
    return [
        {"name": "poller RSS, idle (baseline)", "value": idle, "unit": "MiB"},
        {
            "name": f"poller RSS, {what} held before the final dot",
            "value": held,
            "unit": "MiB",
            "baseline": idle,
        },
        {
            "name": f"poller peak RSS (VmHWM), {what} received then delivered over LMTP",
            "value": peak,
            "unit": "MiB",
            "baseline": idle,
            "note": f"{TRANSFERS * MAX_MESSAGE_BYTES / 2**30:.2f} GiB in {seconds:.0f} s",
        },
        {"name": "poller RSS after", "value": after, "unit": "MiB", "baseline": idle},
    ]
