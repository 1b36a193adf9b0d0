"""The labeled set (labeled_messages.jsonl, README.md beside it) and the figures measured on
it: per-subject precision and recall, language accuracy. Used by the floors test and by
``python -m bench bench_ticket_topics``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import msgspec
from keybuzz_shared.ticket_topics import SUBJECTS, Subject, classify

LABELED_SET = Path(__file__).with_name("labeled_messages.jsonl")
# The written set (written_set/README.md): ``tuning.jsonl`` is what rules and models are
# tuned and trained on, ``held_out.jsonl`` only measured.
WRITTEN_SET = Path(__file__).with_name("written_set")
# Tuning messages written later, apart from the written set so that its split rule stays
# whole (README.md, "More tuning messages"): trained on, never measured.
EXTRA_TUNING = Path(__file__).with_name("tuning_extra.jsonl")


class Labeled(msgspec.Struct, frozen=True):
    id: str
    marketplace: str
    language: str
    subject: Subject
    text: str
    # What makes it hard (written set only): "negation", "two_asks", "quoted_history", …
    traits: tuple[str, ...] = ()


class ClassFigures(msgspec.Struct, frozen=True):
    precision: float
    recall: float
    support: int  # messages labeled with the class


def labeled(path: Path = LABELED_SET) -> list[Labeled]:
    decoder = msgspec.json.Decoder(Labeled)
    return [decoder.decode(line) for line in path.read_bytes().splitlines() if line.strip()]


def written(part: str) -> list[Labeled]:
    """A part of the written set (``tuning`` or ``held_out``); empty where it is absent."""
    path = WRITTEN_SET / f"{part}.jsonl"
    return labeled(path) if path.exists() else []


def extra_tuning() -> list[Labeled]:
    """The tuning messages kept beside the written set (``tuning_extra.jsonl``)."""
    return labeled(EXTRA_TUNING) if EXTRA_TUNING.exists() else []


def subject_figures(pairs: Iterable[tuple[Subject, Subject]]) -> dict[Subject, ClassFigures]:
    """Per subject, from (label, predicted) pairs: precision (of the messages given the
    subject, how many carry it) and recall (of those carrying it, how many were given it)."""
    listed = list(pairs)
    figures: dict[Subject, ClassFigures] = {}
    for subject in SUBJECTS:
        given = sum(1 for _, predicted in listed if predicted == subject)
        carrying = sum(1 for label, _ in listed if label == subject)
        right = sum(1 for label, predicted in listed if label == predicted == subject)
        figures[subject] = ClassFigures(
            precision=right / given if given else 1.0,
            recall=right / carrying if carrying else 1.0,
            support=carrying,
        )
    return figures


def accuracy(pairs: Iterable[tuple[str, str]]) -> float:
    listed = list(pairs)
    return sum(1 for label, guess in listed if label == guess) / len(listed)


def classified(messages: list[Labeled]) -> list[tuple[Labeled, str, Subject]]:
    """Each message with the language and subject the classifier gives its text alone."""
    out = []
    for message in messages:
        topics = classify(message.text)
        out.append((message, topics.language, topics.subject))
    return out


def language_pairs(
    rows: list[tuple[Labeled, str, Subject]], keep: Callable[[Labeled], bool] = lambda m: True
) -> list[tuple[str, str]]:
    return [(m.language, language) for m, language, _ in rows if keep(m)]
