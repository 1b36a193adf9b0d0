"""What a ticket is about and in which language, as its buyer messages are stored: each
message as it is classified (``to_classify``; ``keybuzz_shared.ticket_topics.classify_each``
reads a page's or a batch's together: the marketplace's word first, the buyer's words next),
a thread's messages folded in order (``later``), and the ticket row's fields. The store
folds a row into a stored ticket by the same rule in SQL (``tickets/store.py``,
``upsert_tickets``); the unit tier's fake by ``later`` itself."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import msgspec
from keybuzz_shared.ticket_topics import (
    BuyerMessage,
    Subject,
    Topics,
    language_of_country,
    later,
)
from prometheus_client import Counter

from keybuzz_poller.tickets.ports import ExternalMessageRow, TicketRow

CLASSIFIED = Counter(
    "keybuzz_poller_buyer_messages_classified",  # exposed with _total, as a counter is
    "Buyer messages stored, by the language and topic read for them and where the topic "
    "came from (marketplace, detected)",
    ["language", "topic", "topic_source"],
)


def to_classify(
    external: ExternalMessageRow, *, language: str | None = None, subject: Subject | None = None
) -> BuyerMessage:
    """A stored buyer message as it is classified: ``language`` and ``subject`` the
    marketplace's, when it gives them; a relayed mail's language is its site's (the inbound
    address's country)."""
    return words_to_classify(
        external.body,
        inbound_address=external.inbound_address,
        country=external.country,
        language=language,
        subject=subject,
    )


def words_to_classify(
    body: str,
    *,
    inbound_address: str | None,
    country: str | None,
    language: str | None = None,
    subject: Subject | None = None,
) -> BuyerMessage:
    """``to_classify`` on a stored message's columns (the topics backfill reads only those)."""
    if language is None and inbound_address is not None:
        language = language_of_country(country)
    return BuyerMessage(body, language, subject)


def count(topics: Topics) -> None:
    """A stored buyer message's topics on ``CLASSIFIED`` (once its unit of work commits)."""
    _counter(topics.language, topics.subject, topics.subject_source).inc()


@functools.cache
def _counter(language: str, topic: str, source: str) -> Counter:
    """One sample's counter, looked up once (``labels`` costs ~1.5 µs a message)."""
    return CLASSIFIED.labels(language, topic, source)


def folded(messages: Iterable[Topics]) -> Topics | None:
    """A thread's messages' topics, oldest first, as one (None for none)."""
    current: Topics | None = None
    for topics in messages:
        current = topics if current is None else later(current, topics)
    return current


def with_topics(row: TicketRow, topics: Topics | None) -> TicketRow:
    """The ticket row carrying ``topics`` (unchanged for None)."""
    if topics is None:
        return row
    return msgspec.structs.replace(row, **fields(topics))


def fields(topics: Topics) -> dict[str, str | float | None]:
    return {
        "language": topics.language,
        "language_source": topics.language_source,
        "language_confidence": topics.language_confidence,
        "topic": topics.subject,
        "topic_source": topics.subject_source,
    }


def stored(row: TicketRow) -> Topics | None:
    """A row's topics back as ``Topics`` (None when it carries none)."""
    if row.topic is None or row.language is None:
        return None
    return Topics(
        language=row.language,
        language_source="marketplace" if row.language_source == "marketplace" else "detected",
        language_confidence=row.language_confidence,
        subject=msgspec.convert(row.topic, Subject),
        subject_source="marketplace" if row.topic_source == "marketplace" else "detected",
    )
