"""A ticket's topics from one message: the marketplace's word first, the buyer's text next."""

from __future__ import annotations

from keybuzz_shared.own_words import own_words
from keybuzz_shared.ticket_topics.language import detect_language
from keybuzz_shared.ticket_topics.subject_model import subject_of
from keybuzz_shared.ticket_topics.taxonomy import UNDETERMINED, Source, Subject, Topics


def classify(text: str, *, language: str | None = None, subject: Subject | None = None) -> Topics:
    """The language and subject of a buyer's message ``text`` (its whole body: quoted history,
    signature and boilerplate are left out here). ``language`` (a BCP 47 primary tag) and
    ``subject`` are what the marketplace says, when it does: they win."""
    words = own_words(text) if language is None or subject is None else ""
    language_source: Source
    confidence: float | None
    if language is not None:
        language_source, confidence = "marketplace", None
    else:
        guess = detect_language(words)
        language, language_source, confidence = guess.language, "detected", guess.confidence
    return Topics(
        language=language,
        language_source=language_source,
        language_confidence=confidence,
        subject=subject if subject is not None else subject_of(words),
        subject_source="marketplace" if subject is not None else "detected",
    )


def later(current: Topics, new: Topics) -> Topics:
    """A ticket's topics once a later buyer message (``new``) joins it (``current``).

    The marketplace's word stands until the marketplace says otherwise. A subject read from
    the text follows the conversation (a question that turns into a return) unless the new
    message is read as ``OTHER`` ("thanks", "any news?"). A language
    read from the text is kept once known: the first message tells it best."""
    keep_subject = new.subject_source != "marketplace" and (
        current.subject_source == "marketplace" or new.subject == "OTHER"
    )
    keep_language = new.language_source != "marketplace" and (
        current.language_source == "marketplace" or current.language != UNDETERMINED
    )
    language_of = current if keep_language else new
    subject_of_ = current if keep_subject else new
    return Topics(
        language=language_of.language,
        language_source=language_of.language_source,
        language_confidence=language_of.language_confidence,
        subject=subject_of_.subject,
        subject_source=subject_of_.subject_source,
    )
