"""The classifier's cheaper path (the buyer's words folded once for the subject, their
features counted in C; the language's best alone asked first, ranked without converting
every label) reads every message of the written set as the plain one does: each step
recomputed here as written plainly, on the model loaded into memory. Pure: no server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from keybuzz_shared.own_words import own_words
from keybuzz_shared.ticket_topics import SUBJECTS, classify, language, subject_model, subject_rules

WRITTEN_SET = Path(__file__).with_name("written_set")


def _texts() -> list[str]:
    lines = (WRITTEN_SET / "tuning.jsonl").read_text().splitlines()
    lines += (WRITTEN_SET / "held_out.jsonl").read_text().splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def _plain_language(words: str, identifier: object) -> tuple[str, float]:
    text = re.sub(r"\s+", " ", words[: language.MAX_CHARS * 4]).strip()
    text = text[: language.MAX_CHARS]
    if sum(c.isalpha() for c in text) < language.MIN_LETTERS:
        return "und", 0.0
    ranked = [(str(tag).lower(), float(p)) for tag, p in identifier.rank(text)]  # type: ignore[attr-defined]
    top, probability = ranked[0]
    if (probability >= language.MIN_CONFIDENCE and top in language.RULE_LANGUAGES) or (
        probability >= language.OTHER_LANGUAGE_CONFIDENCE
    ):
        guess = language._guess(top, probability)
    else:
        guess = language._among_served(ranked, probability)
    return guess.language, guess.confidence


def _plain_features(words: str, buckets: int) -> dict[int, float]:
    """``subject_model.text_features`` as written plainly: each feature counted as it is read."""
    hashed = subject_model._hash
    text = subject_model._DIGITS.sub("0", subject_rules.fold(words[: subject_model.MAX_CHARS]))
    counts: dict[int, float] = {}

    def count(feature: int) -> None:
        counts[feature] = counts.get(feature, 0.0) + 1.0

    previous, negated, scoped = "^", 0, False
    for word in subject_model._SCOPED_TOKEN.findall(text):
        if word in subject_model._CLAUSE_MARKS:
            scoped = False
            continue
        for feature in subject_model._word_features(word, buckets):
            count(feature)
        count(hashed(b"p", f"{previous} {word}") % buckets)
        if negated:
            count(hashed(b"n", word) % buckets)
            negated -= 1
        if scoped:
            topic = next((s for s, stems in subject_model._DENIED_TOPICS if stems.match(word)), "")
            if topic:
                count(hashed(b"t", topic) % buckets)
        if word in subject_model._NEGATIONS:
            negated, scoped = subject_model.NEGATION_REACH, True
        elif word in "?!" or word in subject_model._CLAUSE_TURNS:
            negated, scoped = 0, False
        previous = word
    return counts


def _plain_subject(words: str, model: subject_model.SubjectModel) -> str:
    if not subject_model._TOKEN.search(subject_rules.fold(words[: subject_model.MAX_CHARS])):
        return "OTHER"
    counts = _plain_features(words, model.buckets)  # folds the words itself
    values = 1.0 + np.log(np.array(list(counts.values()), dtype=np.float32))
    values /= float(np.sqrt(values @ values)) or 1.0
    logits = values @ model.weights[list(counts)].astype(np.float32)
    for subject, weight in subject_rules.scores(words).items():  # folds them again
        rule = model.rule_scale * min(weight, subject_model.RULE_CAP) / subject_model.RULE_CAP
        logits += np.float32(rule) * model.weights[model.buckets + SUBJECTS.index(subject)]
    return SUBJECTS[int(np.argmax(logits * np.float32(model.scale) + model.bias))]


@pytest.mark.parametrize("half", [0, 1])
def test_the_cheaper_path_reads_the_written_set_as_the_plain_one(half: int) -> None:
    identifier = language._identifier_in_memory()
    model = subject_model.SubjectModel.load()
    texts = _texts()[half::2]
    differ = []
    for text in texts:
        words = own_words(text)
        topics = classify(text)
        plain = (*_plain_language(words, identifier), _plain_subject(words, model))
        if (topics.language, topics.language_confidence, topics.subject) != plain:
            differ.append((text, plain, topics))
    assert len(texts) > 900
    assert differ == []
