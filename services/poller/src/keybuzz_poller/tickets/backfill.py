"""The topics backfill: tickets stored before the topic columns existed (language and topic
NULL) get them from their stored buyer messages, read as a new message is (``topics``: the
relayed mail's site language, the buyer's own words) and folded in order.

An operator's action (``keybuzz.poller.backfill-topics``, ``micro.py``). Resumable: the rows
are the cursor (a ticket without a topic is still to do; within a run the ids already read
are passed by), so a run stopped anywhere leaves what it filled and the next run takes the
rest. Idempotent: only a ticket whose topic is NULL is written, in the statement that writes
it, so a second run, a ticket stored since, or one a later message gave a topic to meanwhile
are never touched. Paced: ``batch_size`` tickets a transaction, ``pause_seconds`` between
batches, at most ``limit`` tickets a request, so that polling keeps its connections and CPU.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Annotated

import msgspec
from keybuzz_shared.db import Executor
from keybuzz_shared.ticket_topics import Topics, classify_each

from keybuzz_poller.tickets import topics
from keybuzz_poller.tickets.backfill_store import (
    BuyerWords,
    FilledTopics,
    buyer_words,
    count_without_topics,
    tickets_without_topics,
)
from keybuzz_poller.tickets.store import fill_topics


class TopicBackfillRequest(
    msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    pause_seconds: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.1
    limit: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 10_000


class TopicBackfilled(msgspec.Struct, kw_only=True, rename="camel"):
    read: int = 0  # tickets without a topic read by this run
    filled: int = 0  # given a language and topic
    without_buyer_words: int = 0  # no buyer message to read: left as they are
    topic_meanwhile: int = 0  # a later message gave one since they were read: left
    remaining: int = 0  # tickets without a topic after the run (those without words too)


async def backfill_topics(db: Executor, request: TopicBackfillRequest) -> TopicBackfilled:
    """Fill old tickets' language and topic, batch by batch; the counts of this run."""
    done = TopicBackfilled()
    cursor = ""
    while done.read < request.limit:
        size = min(request.batch_size, request.limit - done.read)
        ids = await tickets_without_topics(db, cursor, size)
        if not ids:
            break
        cursor = ids[-1]
        read = folded(await buyer_words(db, ids))
        filled = await fill_topics(db, [_filled(i, t) for i, t in read.items()])
        done.read += len(ids)
        done.filled += filled
        done.without_buyer_words += len(ids) - len(read)
        done.topic_meanwhile += len(read) - filled
        if len(ids) == size and done.read < request.limit:
            await asyncio.sleep(request.pause_seconds)
    done.remaining = await count_without_topics(db)
    return done


def folded(messages: list[BuyerWords]) -> dict[str, Topics]:
    """Each ticket's buyer messages (oldest first) read and folded as the poller does."""
    read = classify_each(
        [
            topics.words_to_classify(m.body, inbound_address=m.inbound_address, country=m.country)
            for m in messages
        ]
    )
    by_ticket: dict[str, list[Topics]] = defaultdict(list)
    for m, one in zip(messages, read, strict=True):
        by_ticket[m.ticket_id].append(one)
    return {
        ticket_id: found
        for ticket_id, thread in by_ticket.items()
        if (found := topics.folded(thread)) is not None
    }


def _filled(ticket_id: str, found: Topics) -> FilledTopics:
    return msgspec.convert({"id": ticket_id, **topics.fields(found)}, FilledTopics)
