"""What a buyer's words are about, by a linear model: hashed word and character n-grams of
the folded text (the subject rules' ``fold``), and the subject rules' own weights as eight
more features, weighed by a multinomial logistic regression.

The weights ship in the package (``subject_model.npz``, trained by
``python -m tests.ticket_topics.train_model`` with a fixed seed on the labeled messages
that are not held out); applying them is a few numpy lines, no learning library at run
time. Chosen by measurement against the rules alone and other combinations
(docs/BENCHMARKS.md, "Ticket topics: the subject classifier chosen by measurement").
"""

from __future__ import annotations

import functools
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np
import numpy.typing as npt

from keybuzz_shared.ticket_topics.subject_rules import MAX_CHARS, fold, folded_scores
from keybuzz_shared.ticket_topics.taxonomy import SUBJECTS, Subject

WEIGHTS: Final = Path(__file__).with_name("subject_model.npz")
NGRAMS: Final = (3, 4, 5)  # character n-grams of a word, its edges marked by spaces
RULE_CAP: Final = 8  # a subject's rule weight past this says nothing more
# The rule features' size beside the n-grams' unit vector (chosen by folds over the training
# messages: 0.125 / 0.25 / 0.5 / 1 / 3 tried, 0.25 best once the tuning messages doubled;
# BENCHMARKS.md); saved with the weights.
RULE_SCALE: Final = 0.25
_TOKEN: Final = re.compile(r"[a-z0-9']+|[?!€$£]")
_SCOPED_TOKEN: Final = re.compile(r"[a-z0-9']+|[?!€$£.,;:\n]")
_CLAUSE_MARKS: Final = frozenset(".,;:\n")
_DIGITS: Final = re.compile(r"[0-9]+")
# The words that deny what follows, in the eight languages (folded), and how far they reach.
_NEGATIONS: Final = frozenset(
    "ne n' pas not no never don't dont didn't won't nicht kein keine keinen nie no nunca non"
    " niet geen nao nem sem without ohne sin senza zonder bez ni".split()
)
NEGATION_REACH: Final = 4
# What ends a negation's clause: a conjunction that turns to what the buyer does want.
_CLAUSE_TURNS: Final = frozenset(
    "mais but aber sondern pero sino ma maar mas ale juste just only nur solo alleen apenas tylko"
    " seulement simplement simply bloss blos".split()
)
# The topic words whose denial tells the subject away from them ("pas de remboursement, juste
# mon colis"), folded stems by the subject they name: in a negation's clause each gives one
# feature its subject's, the same in every language (BENCHMARKS.md, twenty-sixth session).
_DENIED_TOPICS: Final = tuple(
    (subject, re.compile("(?:" + "|".join(stems.split()) + ")"))
    for subject, stems in (
        (
            "RETURN_OR_REFUND",
            "rembours retour renvoy refund return reimburs erstatt ruckerstatt zuruck ruckgab"
            " rucksend umtausch reembols devol rimbors reso restitu terugbetal terug retourn"
            " ruil estorno zwrot zwroc odesl geld money dinheiro dinero soldi",
        ),
        (
            "CANCELLATION",
            "annul cancel storn abbestell abbrech anul annull disdir annuleer rezygn wycofa"
            " ruckgangig",
        ),
        (
            "DAMAGED_OR_WRONG_ITEM",
            "cass abim defect defekt kaputt damag broken rot dannegg kapot beschadig partid"
            " avariad uszkodz zepsut endommag",
        ),
        ("ORDER_CHANGE", "chang modif andern aender cambi wijzig alter mudar zmien"),
        (
            "INVOICE_REQUEST",
            "factur invoice receipt rechnung quittung fattur ricevut factuur fatur rachun paragon",
        ),
    )
)

Vector = tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]
_COLUMN: Final = {subject: column for column, subject in enumerate(SUBJECTS)}


def _hash(kind: bytes, text: str) -> int:
    return zlib.crc32(text.encode(), _seed(kind))


@functools.cache
def _seed(kind: bytes) -> int:
    """A feature kind's start of the hash (the text's bytes follow it), computed once."""
    return zlib.crc32(kind)


@functools.lru_cache(maxsize=16384)
def _word_features(word: str, buckets: int) -> tuple[int, ...]:
    """A word's features: the word itself and its character n-grams (cached: most words of
    a message are words every buyer writes)."""
    padded = f" {word} "
    grams = [_hash(b"w", word)]
    for size in NGRAMS:
        grams += [_hash(b"c", padded[at : at + size]) for at in range(len(padded) - size + 1)]
    return tuple(gram % buckets for gram in grams)


@functools.lru_cache(maxsize=16384)
def _denied_feature(word: str, buckets: int) -> int | None:
    """The feature of the subject a topic word names when denied, None for another word
    (cached: a word's stems are tried once, not at each negation's clause)."""
    subject = next((s for s, stems in _DENIED_TOPICS if stems.match(word)), None)
    return None if subject is None else _hash(b"t", subject) % buckets


def text_features(words: str, buckets: int) -> dict[int, int]:
    """The hashed features of ``words``: each word and its character n-grams, and each pair
    of neighbouring words, by count; digits read as one ``0`` (an order number's shape); the
    few words after a negation again as negated; and in a negation's clause (to a punctuation
    mark or a turn: "mais", "aber", "just") each topic word's subject as denied."""
    return _folded_features(fold(words[:MAX_CHARS]), buckets)


def _folded_features(folded: str, buckets: int) -> dict[int, int]:
    """The features of a folded text by count, in the order each first appears in."""
    features: list[int] = []
    _read_features(folded, buckets, features)
    return Counter(features)


def _read_features(folded: str, buckets: int, features: list[int]) -> None:
    """The features of a folded text added to ``features`` in reading order, each as often
    as it is read (counted after, in C or numpy: a dict's get and set a feature cost more)."""
    text = _DIGITS.sub("0", folded)
    pair = _seed(b"p")  # each pair of words hashed here: ``_hash`` inlined, a call less
    previous = "^"
    negated = 0  # words left that a negation before them reaches
    scoped = False  # a negation's clause: up to a punctuation mark or a turn ("mais")
    for word in _SCOPED_TOKEN.findall(text):
        if word in _CLAUSE_MARKS:
            scoped = False
            continue
        features += _word_features(word, buckets)
        features.append(zlib.crc32(f"{previous} {word}".encode(), pair) % buckets)
        if negated:
            # "pas de remboursement" is not "remboursement": the word again, as negated
            features.append(_hash(b"n", word) % buckets)
            negated -= 1
        if scoped and (denied := _denied_feature(word, buckets)) is not None:
            features.append(denied)
        if word in _NEGATIONS:
            negated = NEGATION_REACH
            scoped = True
        elif word in "?!" or word in _CLAUSE_TURNS:
            negated = 0
            scoped = False
        previous = word


def vector(words: str, buckets: int, rule_scale: float) -> Vector:
    """``words`` as the model reads them: the n-gram counts (1 + log), of unit length, then
    each subject's rule weight over ``RULE_CAP``, times ``rule_scale``, in the columns after
    the buckets (none at 0). The training's form; ``SubjectModel.folded_logits_of`` applies
    the same to many texts at once."""
    folded = fold(words[:MAX_CHARS])
    counts = _folded_features(folded, buckets)
    indices = np.fromiter(counts, dtype=np.int64, count=len(counts))
    values = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    norm = float(np.sqrt(values @ values))
    if norm:
        values /= norm
    ruled = [(buckets + _COLUMN[s], w) for s, w in _rule_values(folded, rule_scale).items()]
    if ruled:
        indices = np.concatenate([indices, np.array([i for i, _ in ruled], dtype=np.int64)])
        values = np.concatenate([values, np.array([v for _, v in ruled], dtype=np.float32)])
    return indices, values.astype(np.float32)


def _rule_values(folded: str, rule_scale: float) -> dict[Subject, float]:
    """Each subject's rule weight over ``RULE_CAP``, times ``rule_scale`` (none at 0)."""
    if not rule_scale:
        return {}
    return {s: rule_scale * min(w, RULE_CAP) / RULE_CAP for s, w in folded_scores(folded).items()}


class SubjectModel:
    """A trained model's weights: one row a feature (the buckets, then the eight rule
    columns), one column a subject in ``SUBJECTS``' order."""

    def __init__(
        self,
        weights: npt.NDArray[np.floating] | npt.NDArray[np.int8],
        bias: npt.NDArray[np.floating],
        buckets: int,
        rule_scale: float,
        scale: float = 1.0,
    ) -> None:
        # int8 as shipped (1 MiB in memory), times ``scale``; a feature's row contiguous (the
        # file's are a column's): a text's rows gathered ~7× faster
        self.weights = np.ascontiguousarray(weights)
        self.scale = scale
        self.bias = bias.astype(np.float32)
        self.buckets = buckets
        self.rule_scale = rule_scale
        # the rule columns' rows, read at every text: widened once
        self.rule_rows = weights[buckets : buckets + len(SUBJECTS)].astype(np.float32)

    @classmethod
    def load(cls, path: Path | BinaryIO = WEIGHTS) -> SubjectModel:
        with np.load(path, allow_pickle=False) as data:
            if tuple(str(s) for s in data["subjects"]) != SUBJECTS:
                raise ValueError(f"{path} was trained for other subjects than {SUBJECTS}")
            return cls(
                data["weights"],
                data["bias"],
                int(data["buckets"]),
                float(data["rule_scale"]),
                float(data["scale"]),
            )

    def save(self, path: Path) -> None:
        """The weights as int8 at one scale (a quarter of float32's size, the same answers
        within rounding: BENCHMARKS.md), compressed."""
        weights = self.weights.astype(np.float32) * self.scale
        scale = float(np.abs(weights).max()) / 127 or 1.0
        np.savez_compressed(
            path,
            weights=np.round(weights / scale).astype(np.int8),
            scale=np.float64(scale),
            bias=self.bias,
            buckets=np.int64(self.buckets),
            rule_scale=np.float64(self.rule_scale),
            subjects=np.array(SUBJECTS),
        )

    def logits(self, words: str) -> npt.NDArray[np.float32]:
        logits: npt.NDArray[np.float32] = self.folded_logits_of([fold(words[:MAX_CHARS])])[0]
        return logits

    def folded_logits_of(self, folded: Sequence[str]) -> npt.NDArray[np.float32]:
        """The logits of texts folded once (``fold(words[:MAX_CHARS])``), a row a text: the
        model applied to them all at once, numpy's cost a call paid once a batch (a page, a
        batch of mails), not once a message (BENCHMARKS.md, forty-first session)."""
        sums = np.zeros((len(folded), len(SUBJECTS)), dtype=np.float32)
        features: list[int] = []
        sizes = []
        for text in folded:
            before = len(features)
            _read_features(text, self.buckets, features)
            sizes.append(len(features) - before)
        if features:
            # each text's features counted, for the batch at once: a key a (text, feature),
            # sorted (a text's sum in its features' order: the same whatever its neighbours)
            keys = np.array(features, dtype=np.int64)
            keys += np.repeat(np.arange(len(folded), dtype=np.int64) * self.buckets, sizes)
            keys.sort()
            starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            counts = (np.append(starts[1:], len(keys)) - starts).astype(np.float32)
            rows, indices = np.divmod(keys[starts], self.buckets)
            np.log(counts, out=counts)
            counts += 1.0
            texts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
            norms = np.sqrt(np.add.reduceat(counts * counts, texts))
            weighed = counts[:, None] * np.take(self.weights, indices, axis=0)
            sums[rows[texts]] = np.add.reduceat(weighed, texts) / norms[:, None]
        if self.rule_scale:
            ruled = np.zeros_like(sums)
            for row, text in enumerate(folded):
                for subject, value in _rule_values(text, self.rule_scale).items():
                    ruled[row, _COLUMN[subject]] = value
            sums += ruled @ self.rule_rows
        return sums * np.float32(self.scale) + self.bias

    def subject_of(self, words: str) -> Subject:
        return SUBJECTS[int(np.argmax(self.logits(words)))]


@functools.cache
def shipped() -> SubjectModel:
    """The model shipped in the package, loaded once (~1 MiB)."""
    return SubjectModel.load()


def subject_of(words: str) -> Subject:
    """The subject of ``words`` (a buyer's own words) by the shipped model; ``OTHER`` for
    words with nothing to read."""
    return subjects_of([words])[0]


def subjects_of(texts: Sequence[str]) -> list[Subject]:
    """``subject_of`` of each text, the shipped model applied once to them all."""
    folded = [fold(words[:MAX_CHARS]) for words in texts]  # once: the check, n-grams, rules
    read = [row for row, f in enumerate(folded) if _TOKEN.search(f)]
    subjects: list[Subject] = ["OTHER"] * len(texts)
    if read:
        logits = shipped().folded_logits_of([folded[row] for row in read])
        for row, best in zip(read, logits.argmax(axis=1).tolist(), strict=True):
            subjects[row] = SUBJECTS[best]
    return subjects
