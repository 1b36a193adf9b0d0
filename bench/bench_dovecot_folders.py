"""Dovecot with one folder per tenant: LMTP deliveries and IMAP reads as the folders grow.

The poller's account holds a folder per tenant, so thousands. Two Dovecots of the
dev stack's generated config, same run: as configured (``SCALE_SETTINGS``: no mailbox
list index, new folders not subscribed) and, as the baseline, with Dovecot 2.3's
defaults for those two settings. Into each, over one kept LMTP session:

1. ``FOLDERS`` new folders, one mail each (what a tenant's first mail costs);
2. 1,000 mails spread over all of them (the MX's load: tenants at random);
3. 1,000 mails into 10 of them (the same folders again and again);

then over IMAP one ``LIST … RETURN (STATUS (MESSAGES UIDNEXT))`` of everything (the
quarantine scan) and 300 ``SELECT`` + ``UID FETCH 1:* (UID)`` of folders at random.

    BENCH_FOLDERS=2000 .venv/bin/python -m bench bench_dovecot_folders   # ~2 minutes
"""

from __future__ import annotations

import asyncio
import imaplib
import os
import smtplib
import time

from keybuzz_devstack import dovecot, infra

from bench.bench_poller import _mail
from bench.harness import BenchContext, Figure

FOLDERS = int(os.environ.get("BENCH_FOLDERS", "2000"))
SPREAD_MAILS = 1000
READS = 300
# Dovecot 2.3's own defaults of the two lines SCALE_SETTINGS changes.
DOVECOT_DEFAULTS = "mailbox_list_index = yes\nlda_mailbox_autosubscribe = yes"


def _folder(n: int) -> str:
    return f"tenant-{n:06d}"


def _deliveries_per_second(lmtp: smtplib.LMTP, folders: list[str]) -> float:
    started = time.perf_counter()
    for n, folder in enumerate(folders):
        address = f"keybuzz+{folder}@x"
        lmtp.sendmail("bounces@amazonses.com", [address], _mail(address, n))
    return len(folders) / (time.perf_counter() - started)


def _measure(ctx: BenchContext, label: str, extra: str) -> dict[str, float]:
    imap_port, lmtp_port = infra.free_port(), infra.free_port()
    data = ctx.root / f"folders-{label}"
    spec = dovecot.dovecot_spec(data, imap_port, lmtp_port, fsync=False)
    if extra:  # later lines win in Dovecot's config
        with (data / "dovecot.conf").open("a") as conf:
            conf.write(extra + "\n")
    server = infra.RunningServer(spec, ctx.root / f"folders-{label}.log").start(timeout=60)
    try:
        with smtplib.LMTP("127.0.0.1", lmtp_port, local_hostname="bench") as lmtp:
            created = _deliveries_per_second(lmtp, [_folder(n) for n in range(FOLDERS)])
            spread = [_folder(n * 7919 % FOLDERS) for n in range(SPREAD_MAILS)]
            same = [_folder(n % 10) for n in range(SPREAD_MAILS)]
            figures = {
                "LMTP into new folders": created,
                "LMTP spread over every folder": _deliveries_per_second(lmtp, spread),
                "LMTP into 10 folders": _deliveries_per_second(lmtp, same),
            }
        imap = imaplib.IMAP4("127.0.0.1", imap_port)
        imap.login(dovecot.MAIL_USER, dovecot.DEV_IMAP_PASSWORD)
        started = time.perf_counter()
        imap._simple_command("LIST", '""', "*", "RETURN", "(STATUS (MESSAGES UIDNEXT))")
        figures["IMAP LIST-STATUS of every folder, seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        for n in range(READS):
            imap.select(_folder(n * 7919 % FOLDERS))
            imap.uid("FETCH", "1:*", "(UID)")
        figures["IMAP SELECT + UID FETCH"] = READS / (time.perf_counter() - started)
        imap.logout()
        return figures
    finally:
        server.stop()


async def run(ctx: BenchContext) -> list[Figure]:
    defaults = await asyncio.to_thread(_measure, ctx, "defaults", DOVECOT_DEFAULTS)
    ours = await asyncio.to_thread(_measure, ctx, "ours", "")
    return [
        {
            "name": f"{FOLDERS} folders: {what}",
            "value": value,
            "unit": "s" if what.endswith("seconds") else "per s",
            "baseline": defaults[what],
            "note": "baseline: Dovecot 2.3's defaults (list index on, autosubscribe)",
        }
        for what, value in ours.items()
    ]
