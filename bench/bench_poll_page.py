"""What a page of new messages costs the poller beyond its statements: the per-message work
``shops/poll.py``'s ``_take_messages`` does in Python, on a page of 10 buyer messages as
``bench_poll_floor`` writes them on the Fnac double (``poll_floor_families.FILLER``).

Each part timed alone, per message, CPU by ``time.thread_time_ns``, best of
``BENCH_POLL_PAGE_ROUNDS`` rounds (default 200) of the page after a warm-up: the topics
(``classify_each`` of the page, as the poller reads it: the buyer's own words, the language,
the subject), the
external row (``external_row``: the message kept as received), the ticket row
(``ticket_message``) and the ``message.received`` event with the outbox's encoding of it
(``encode_event``, ``event_headers``). No server: the stack ``make bench`` starts is not
used, so it can be run in any worktree to compare two versions in one sitting.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
from keybuzz_poller.tickets import topics
from keybuzz_poller.tickets.ports import ExternalMessageRow
from keybuzz_poller.tickets.received import external_row, message_received, ticket_message
from keybuzz_shared.connectors.seam.messages import InboxMessage, ThreadKey
from keybuzz_shared.events import encode_event, event_headers
from keybuzz_shared.ticket_topics import Topics, classify_each, warm_up

from bench.harness import BenchContext, Figure
from bench.poll_floor_families import FILLER

PAGE = 10


def page() -> list[InboxMessage]:
    """A page of new buyer messages, each opening its order's thread."""
    now = datetime.now(UTC)
    return [
        InboxMessage(
            message_id=uuid.uuid4().hex,
            thread=ThreadKey(kind="ORDER", id=f"ORDER-{n}"),
            sender_type="BUYER",
            sender_name="Client Fnac",
            subject="Commande",
            body=f"shop-1 #{n} {uuid.uuid4().hex[:8]}: {FILLER} {FILLER}",
            created_at=now,
            unread=True,
        )
        for n in range(PAGE)
    ]


def _external(message: InboxMessage) -> ExternalMessageRow:
    return external_row(
        message,
        tenant_id="tenant-1",
        marketplace="FNAC",
        received_at=datetime.now(UTC),
        mark_read=True,
    )


def _event(external: ExternalMessageRow, read: Topics) -> tuple[bytes, bytes]:
    """The message's ``message.received`` as the outbox writes it (its payload, headers)."""
    event = message_received(external, ticket_message(external, "ticket-1"), topics=read)
    return encode_event(event), msgspec.json.encode(event_headers(event))


def _per_message_us(part: Callable[[], object], rounds: int) -> float:
    part()  # warm: the models loaded, the caches filled
    best = min(_timed(part) for _ in range(rounds))
    return best / PAGE / 1000


def _timed(part: Callable[[], object]) -> int:
    started = time.thread_time_ns()
    part()
    return time.thread_time_ns() - started


async def run(ctx: BenchContext) -> list[Figure]:
    rounds = int(os.environ.get("BENCH_POLL_PAGE_ROUNDS", "200"))
    warm_up()
    messages = page()
    externals = [_external(m) for m in messages]
    read = classify_each([topics.to_classify(e) for e in externals])
    parts: dict[str, Callable[[], object]] = {
        "topics": lambda: classify_each([topics.to_classify(e) for e in externals]),
        "external row": lambda: [_external(m) for m in messages],
        "ticket row": lambda: [ticket_message(e, "ticket-1") for e in externals],
        "message.received encoded": lambda: [
            _event(e, r) for e, r in zip(externals, read, strict=True)
        ],
    }
    figures: list[Figure] = [
        {
            "name": f"poll page: {name}",
            "value": round(_per_message_us(part, rounds), 1),
            "unit": "µs CPU a message",
            "note": f"a page of {PAGE} Fnac-like buyer messages, best of {rounds} rounds",
        }
        for name, part in parts.items()
    ]
    total = sum(f["value"] for f in figures)
    figures.append(
        {
            "name": "poll page: the parts together",
            "value": round(total, 1),
            "unit": "µs CPU a message",
        }
    )
    return figures
