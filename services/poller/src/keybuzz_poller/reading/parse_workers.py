"""Parsing relay mails off the event loop, in worker processes.

A poll's batch of 200 relay mails would hold the event loop for tens of ms
(docs/BENCHMARKS.md, bench_mail_parse), and a hostile mail for its whole time
budget, which only a process of its own can cut short. One process-wide pool,
shared by every service instance of the process and made on first use. This module
imports nothing heavy: spawned workers import it to find ``_parse_batch``.

Each mail has a budget (:class:`ParseBudget`): its parts and depth are checked by
``relay_mail.parse``; its time here, by a timer in the worker (SIGALRM interrupts
the parse in the worker's main thread, where the pool runs its tasks), so a hostile
mail costs its poll at most ``max_seconds`` and the worker goes on with the next.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import msgspec

from keybuzz_poller.reading import relay_mail
from keybuzz_poller.reading.relay_mail import OverBudget, ParseBudget, RelayMail

log = logging.getLogger(__name__)

# One core stays for the event loop (IMAP, PostgreSQL, NATS).
PARSE_WORKERS = max(1, min(4, (os.cpu_count() or 2) - 1))
INLINE_PARSE_BYTES = 32 * 1024
_parse_pool: ProcessPoolExecutor | None = None
_results = msgspec.msgpack.Encoder()
_read_results = msgspec.msgpack.Decoder(list[RelayMail])


def _parse_batch(raws: list[bytes], budget: ParseBudget) -> bytes:
    """In a worker process. The results travel back as one MessagePack blob: pickling
    the Structs (each field, each datetime, by reduce) costs ~5 µs a mail, this ~1."""
    return _results.encode([_parse_timed(raw, budget) for raw in raws])


def _parse_timed(raw: bytes, budget: ParseBudget) -> RelayMail:
    """``relay_mail.parse``, interrupted past ``budget.max_seconds`` (it flags the mail)."""
    signal.setitimer(signal.ITIMER_REAL, budget.max_seconds)
    try:
        return relay_mail.parse(raw, budget)
    except OverBudget as exc:  # the timer went off outside parse's own ``try``
        return RelayMail(raw=raw, parse_error=f"OverBudget: {exc}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _out_of_time(signum: int, frame: object) -> None:
    raise OverBudget("parse took longer than its time budget")


# Parsed once by each worker as it starts: a first parse imports what ``parse`` reads at
# run time (the registry's connectors for the relays, ~0.3 s of CPU here, seconds on a loaded
# machine), which a mail's time budget must not pay.
WARM_UP = b"From: warm-up@keybuzz.invalid\r\nSubject: warm-up\r\n\r\nwarm-up\r\n"


def _start_worker(parent: int) -> None:
    """Worker initializer: the parse timer's handler, leaving with the parent, and a first
    parse outside any mail's budget."""
    signal.signal(signal.SIGALRM, _out_of_time)
    _exit_with_parent(parent)
    relay_mail.parse(WARM_UP, ParseBudget())


def _exit_with_parent(parent: int) -> None:
    """Leave when the service process is gone, however it went.

    A worker blocks reading its task pipe and outlives a parent that was SIGKILLed
    (orphans of killed pollers would pile up under init); this thread ends it
    within a second of the parent's death.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _pool() -> ProcessPoolExecutor:
    global _parse_pool
    if _parse_pool is None:
        # spawn: forking a process that runs an event loop and threads copies their locks.
        _parse_pool = ProcessPoolExecutor(
            PARSE_WORKERS,
            mp_context=mp.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
    return _parse_pool


def start_workers() -> None:
    """Start the pool's workers now, without waiting for them: the first large batch after
    start-up would otherwise wait for a worker to spawn and import the parser (~0.5 s of
    CPU here), every poll of a backlog's first round behind it (bench_poller)."""
    _pool().submit(_ready)


def _ready() -> None:
    """In a worker process: nothing; submitting it makes the pool spawn its worker."""


async def parse_mails(raws: list[bytes], budget: ParseBudget) -> list[RelayMail]:
    """``relay_mail.parse`` of each within ``budget``, off the event loop; order kept.

    A batch of at most ``INLINE_PARSE_BYTES`` is parsed in the event loop itself: a
    pushed poll reads one or two relay mails (~0.1 ms each), and the hand-off to a
    worker costs more than the parse (the pickling both ways, the executor's threads).
    Within the parts and depth budget, the slowest shapes found that small take
    ~10–15 ms (docs/POLLER.md, "Parse budget"), so no time limit is needed there.
    """
    if not raws:
        return []
    if sum(len(raw) for raw in raws) <= INLINE_PARSE_BYTES:
        return [relay_mail.parse(raw, budget) for raw in raws]
    global _parse_pool
    loop = asyncio.get_running_loop()
    try:
        parsed = await loop.run_in_executor(_pool(), _parse_batch, raws, budget)
    except BrokenProcessPool:  # a worker died (OOM killer …): a new pool, this batch again
        log.warning("mail parsing workers died: starting new ones")
        _parse_pool = None
        parsed = await loop.run_in_executor(_pool(), _parse_batch, raws, budget)
    return _read_results.decode(parsed)
