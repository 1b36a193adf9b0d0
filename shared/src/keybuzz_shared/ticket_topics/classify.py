"""A ticket's topics from a message: the marketplace's word first, the buyer's text next."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from keybuzz_shared.own_words import own_words
from keybuzz_shared.ticket_topics.language import LanguageGuess, detect_languages
from keybuzz_shared.ticket_topics.subject_model import subjects_of
from keybuzz_shared.ticket_topics.taxonomy import UNDETERMINED, Source, Subject, Topics


class BuyerMessage(NamedTuple):
    """A buyer's message as ``classify`` reads it: its whole body (quoted history, signature
    and boilerplate are left out here), and the language (a BCP 47 primary tag) and subject
    its marketplace gives, when it does: they win."""

    text: str
    language: str | None = None
    subject: Subject | None = None


def classify(text: str, *, language: str | None = None, subject: Subject | None = None) -> Topics:
    """The language and subject of a buyer's message ``text`` (``BuyerMessage``)."""
    return classify_each([BuyerMessage(text, language, subject)])[0]


def classify_each(messages: Sequence[BuyerMessage]) -> list[Topics]:
    """``classify`` of each message, the language and subject models applied once to all of
    them."""
    words = [own_words(m.text) if m.language is None or m.subject is None else "" for m in messages]
    detected = iter(
        subjects_of([w for w, m in zip(words, messages, strict=True) if m.subject is None])
    )
    guessed = iter(
        detect_languages([w for w, m in zip(words, messages, strict=True) if m.language is None])
    )
    return [_topics(m, guessed, detected) for m in messages]


def _topics(
    message: BuyerMessage, guessed: Iterator[LanguageGuess], detected: Iterator[Subject]
) -> Topics:
    language_source: Source
    confidence: float | None
    if message.language is not None:
        language, language_source, confidence = message.language, "marketplace", None
    else:
        guess = next(guessed)
        language, language_source, confidence = guess.language, "detected", guess.confidence
    return Topics(
        language=language,
        language_source=language_source,
        language_confidence=confidence,
        subject=next(detected) if message.subject is None else message.subject,
        subject_source="detected" if message.subject is None else "marketplace",
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
