"""The subject classifiers compared on messages they were not tuned on, and the language
detector on the same messages (docs/BENCHMARKS.md, "Ticket topics: the subject classifier
chosen by measurement").

    .venv/bin/python -m bench.bench_topic_classifiers    # every table, no stack started
    .venv/bin/python -m bench bench_topic_classifiers    # the summary in the benches' table

Two measures, each on messages no rule and no model of the candidate saw:
- the written set's held-out part (tests/ticket_topics/written_set/held_out.jsonl), the
  models trained on its tuning part, the extra tuning messages (tuning_extra.jsonl) and the
  old labeled set (labeled_messages.jsonl);
- the old labeled set by 5 folds, a model trained on the tuning part and four folds and
  measured on the fifth.
Every message is read as the poller reads it: ``own_words`` first, then the language and
the subject. Per candidate: accuracy overall, per language, per trait (written set), each
subject's precision and recall; CPU a message (``time.process_time``, the whole path: own
words, language, subject; each message's median of ``RUNS`` runs, then p50/p99 over the
messages); the memory a poller process gains when the candidate is loaded (a fresh process,
/proc/self/status before and after). scikit-learn is needed to train (requirements-dev.txt).
"""

from __future__ import annotations

import importlib.util
import io
import json
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from keybuzz_shared.own_words import own_words
from keybuzz_shared.ticket_topics import (
    RULE_LANGUAGES,
    SUBJECTS,
    Subject,
    detect_language,
    subject_model,
    subject_rules,
)
from keybuzz_shared.ticket_topics.subject_model import RULE_SCALE

from bench.harness import BenchContext, Figure
from tests.ticket_topics.measure import (
    Labeled,
    accuracy,
    extra_tuning,
    labeled,
    subject_figures,
    written,
)
from tests.ticket_topics.train_model import REGULARISATION, fit

ROOT = Path(__file__).parents[1]
BASE = "1141a9f6"  # main before this comparison: the rules as they were
# main before this session's German phrases, denied-topic feature and data (its weights read
# with its own rules and features)
SHIPPED_BEFORE = "49d0d24f"
FOLDS = 5
RUNS = 7
Classifier = Callable[[str], Subject]  # a buyer's own words → a subject
Trainer = Callable[[Sequence[Labeled]], Classifier]


TOPICS = "shared/src/keybuzz_shared/ticket_topics"


def _at(commit: str, name: str) -> ModuleType:
    """``ticket_topics/<name>.py`` as it was at ``commit`` (git show), as a module of its own
    (registered, so that the subject model at that commit reads the rules of that commit)."""
    path = f"{TOPICS}/{name}.py"
    source = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout
    source = source.replace(
        "from keybuzz_shared.ticket_topics.subject_rules import",
        f"from subject_rules_{commit} import",
    )
    spec = importlib.util.spec_from_loader(f"{name}_{commit}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    module.__file__ = str(ROOT / path)  # its weights' path is read, never loaded from it
    exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102  # our own file at a commit
    return module


def _rules_at(commit: str) -> ModuleType:
    """The subject rules as they were at ``commit``."""
    return _at(commit, "subject_rules")


def _rules_before(_: Sequence[Labeled]) -> Classifier:
    rules: Classifier = _rules_at(BASE).subject_of
    return rules


def _rules(_: Sequence[Labeled]) -> Classifier:
    return subject_rules.subject_of


def _model(rule_scale: float, regularisation: float = REGULARISATION) -> Trainer:
    def train(messages: Sequence[Labeled]) -> Classifier:
        return fit(messages, rule_scale=rule_scale, regularisation=regularisation).subject_of

    return train


def _rules_when_sure(least: int) -> Trainer:
    """The rules where their best subject weighs ``least`` or more and no other comes within
    2 of it; the n-gram model otherwise."""

    def train(messages: Sequence[Labeled]) -> Classifier:
        model = fit(messages, rule_scale=0.0)

        def classify(words: str) -> Subject:
            weights = sorted(subject_rules.scores(words).values(), reverse=True)
            if weights and weights[0] >= least and weights[0] - sum(weights[1:2]) >= 2:
                return subject_rules.subject_of(words)
            return model.subject_of(words)

        return classify

    return train


def _shipped(_: Sequence[Labeled]) -> Classifier:
    return subject_model.subject_of


def _shipped_at(commit: str) -> Trainer:
    """The weights the package shipped at ``commit`` (git show), read by the features and
    rules of that commit, measured beside today's."""

    def load(_: Sequence[Labeled]) -> Classifier:
        weights = subprocess.run(
            ["git", "show", f"{commit}:{TOPICS}/subject_model.npz"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        _rules_at(commit)
        model = _at(commit, "subject_model").SubjectModel.load(io.BytesIO(weights))
        classifier: Classifier = model.subject_of
        return classifier

    return load


CANDIDATES: dict[str, Trainer] = {
    f"(a) rules as they were ({BASE})": _rules_before,
    "(b) rules fixed on the tuning part": _rules,
    "(c) n-gram model": _model(rule_scale=0.0),
    "(d1) rules when sure, n-gram model otherwise": _rules_when_sure(4),
    "(d2) n-gram model + the rules' weights as features": _model(rule_scale=RULE_SCALE),
    # the twenty-fifth session's settings on today's data: what the settings add beside the data
    "(d2) at C 100, rule scale 0.5": _model(rule_scale=0.5, regularisation=100.0),
}
# The shipped weights were trained on every message but the held-out part: measured there only.
SHIPPED = "shipped: subject_model.npz (d2, trained on tuning + old set)"
SHIPPED_EARLIER = f"shipped at {SHIPPED_BEFORE}: its subject_model.npz"


class Result(NamedTuple):
    message: Labeled
    subject: Subject


class Measured(NamedTuple):
    name: str
    held_out: list[Result]
    old_folds: list[Result]
    cpu_us: list[float]


def _folds(messages: list[Labeled]) -> list[list[Labeled]]:
    ordered = sorted(messages, key=lambda m: m.id)
    return [ordered[index::FOLDS] for index in range(FOLDS)]


def _apply(classifier: Classifier, messages: Sequence[Labeled]) -> list[Result]:
    return [Result(m, classifier(own_words(m.text))) for m in messages]


def measure(name: str, trainer: Trainer) -> Measured:
    old, held_out = labeled(), written("held_out")
    tuning = written("tuning") + extra_tuning()  # extra tuning messages: trained on, never measured
    on_held_out = _apply(trainer([*old, *tuning]), held_out) if held_out else []
    on_old: list[Result] = []
    if name not in (SHIPPED, SHIPPED_EARLIER):
        folds = _folds(old)
        for index, fold in enumerate(folds):
            rest = [m for other, f in enumerate(folds) if other != index for m in f]
            on_old += _apply(trainer([*tuning, *rest]), fold)
    classifier = trainer([*old, *tuning])
    return Measured(name, on_held_out, on_old, _cpu_us(classifier, held_out or old))


def _cpu_us(classifier: Classifier, messages: Sequence[Labeled]) -> list[float]:
    """Each message's CPU (µs) through the poller's path, the median of ``RUNS`` runs."""

    def path(text: str) -> None:
        words = own_words(text)
        detect_language(words)
        classifier(words)

    for message in messages:  # warm-up: models loaded, caches as a running poller has them
        path(message.text)
    costs = []
    for message in messages:
        runs = []
        for _ in range(RUNS):
            started = time.process_time_ns()
            path(message.text)
            runs.append((time.process_time_ns() - started) / 1000)
        costs.append(statistics.median(runs))
    return costs


def _quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


# The memory a poller process gains: a fresh process with the ticket topics imported and the
# language model loaded, then the subject classifier loaded and run once.
_MEMORY = """
import json
def status():
    rows = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {k: int(rows[k].split()[0]) for k in ("VmRSS", "RssAnon")}
from keybuzz_shared.ticket_topics import detect_language
detect_language("Bonjour, où en est ma commande ?")
before = status()
{load}
after = status()
print(json.dumps({{k: after[k] - before[k] for k in before}}))
"""
MEMORY_LOADS = {
    "rules": "from keybuzz_shared.ticket_topics import subject_rules as s; s.subject_of('ou est mon colis')",
    "model (shipped weights, with the rules)": "from keybuzz_shared.ticket_topics import subject_model as s; s.subject_of('ou est mon colis')",
}


def memory_kib() -> dict[str, dict[str, int]]:
    found = {}
    for name, load in MEMORY_LOADS.items():
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                _MEMORY.replace("{load}", load).replace("{{", "{").replace("}}", "}"),
            ],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        found[name] = json.loads(out)
    return found


def _accuracy(results: Sequence[Result]) -> float:
    return accuracy((r.message.subject, r.subject) for r in results) if results else float("nan")


def _by(results: Sequence[Result], key: Callable[[Labeled], Sequence[str]]) -> dict[str, float]:
    groups: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        for value in key(result.message):
            groups[value].append(result)
    return {value: _accuracy(group) for value, group in sorted(groups.items())}


def _language_rows(
    messages: Sequence[Labeled], texts: bool
) -> tuple[float, dict[str, float], list[str]]:
    """Language accuracy overall and per language, and the misses: with their own words
    where ``texts`` (never for the held-out part: its texts are not read to tune)."""
    guesses = [(m, detect_language(own_words(m.text))) for m in messages]
    pairs = [(m.language, g.language) for m, g in guesses]
    per_language = {
        language: accuracy([(m.language, g.language) for m, g in guesses if m.language == language])
        for language in sorted({m.language for m in messages})
    }
    misses = [
        f"{m.id} {m.language}→{g.language} ({g.confidence})"
        + (f" {own_words(m.text)[:70]!r}" if texts else "")
        for m, g in guesses
        if m.language != g.language
    ]
    return accuracy(pairs), per_language, misses


def _percent(value: float) -> str:
    return "–" if value != value else f"{100 * value:.1f}"


def report(measured: list[Measured], memory: dict[str, dict[str, int]]) -> str:
    held_out, old = written("held_out"), labeled()
    languages = [
        language for language in RULE_LANGUAGES if any(m.language == language for m in held_out)
    ]
    lines = [
        f"held-out part: {len(held_out)} messages "
        f"({', '.join(f'{k} {v}' for k, v in sorted(Counter(m.language for m in held_out).items()))}); "
        f"tuning part: {len(written('tuning'))} + {len(extra_tuning())} extra; old set: {len(old)} by {FOLDS} folds",
        "",
        "| candidate | held-out | old set (folds) | worst language (held-out) | "
        + " | ".join(languages)
        + " | CPU p50 / p99 µs |",
        "|---|---:|---:|---|" + "---:|" * len(languages) + "---:|",
    ]
    for m in measured:
        per_language = _by(m.held_out, lambda message: (message.language,))
        worst = min(per_language.items(), key=lambda item: item[1], default=("–", float("nan")))
        lines.append(
            f"| {m.name} | {_percent(_accuracy(m.held_out))} | {_percent(_accuracy(m.old_folds))} | "
            f"{worst[0]} {_percent(worst[1])} | "
            + " | ".join(_percent(per_language.get(lang, float("nan"))) for lang in languages)
            + f" | {_quantile(m.cpu_us, 50):.0f} / {_quantile(m.cpu_us, 99):.0f} |"
        )
    lines += [
        "",
        "Each subject's precision / recall on the held-out part (old set's folds where none):",
        "",
    ]
    lines.append("| candidate | " + " | ".join(SUBJECTS) + " |")
    lines.append("|---|" + "---|" * len(SUBJECTS))
    for m in measured:
        results = m.held_out or m.old_folds
        figures = subject_figures((r.message.subject, r.subject) for r in results)
        lines.append(
            f"| {m.name} | "
            + " | ".join(f"{f.precision:.2f} / {f.recall:.2f}" for f in figures.values())
            + " |"
        )
    traits = sorted({t for message in held_out for t in message.traits})
    if traits:
        counts = Counter(t for message in held_out for t in message.traits)
        lines += ["", "Accuracy per trait on the held-out part:", ""]
        lines.append("| candidate | " + " | ".join(f"{t} ({counts[t]})" for t in traits) + " |")
        lines.append("|---|" + "---:|" * len(traits))
        for m in measured:
            per_trait = _by(m.held_out, lambda message: message.traits)
            lines.append(
                f"| {m.name} | "
                + " | ".join(_percent(per_trait.get(t, float("nan"))) for t in traits)
                + " |"
            )
    lines += ["", "Memory a poller process gains (KiB, VmRSS / RssAnon):", ""]
    lines += [f"- {name}: {kib['VmRSS']} / {kib['RssAnon']}" for name, kib in memory.items()]
    for name, messages in (("held-out part", held_out), ("old set", old)):
        if not messages:
            continue
        overall, per_language, misses = _language_rows(messages, texts=messages is old)
        lines += [
            "",
            f"Language on the {name}: {_percent(overall)} % "
            + ", ".join(f"{k} {_percent(v)}" for k, v in per_language.items()),
            *(f"    miss {miss}" for miss in misses),
        ]
    return "\n".join(lines)


def measure_all() -> list[Measured]:
    measured = []
    for name, trainer in CANDIDATES.items():
        print(f"measuring {name} …", file=sys.stderr, flush=True)
        measured.append(measure(name, trainer))
    if written("held_out") and subject_model.WEIGHTS.exists():
        measured.append(measure(SHIPPED_EARLIER, _shipped_at(SHIPPED_BEFORE)))
        measured.append(measure(SHIPPED, _shipped))
    return measured


async def run(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    for m in measure_all():
        results = m.held_out or m.old_folds
        per_language = _by(results, lambda message: (message.language,))
        figures.append(
            {
                "name": f"{m.name}: subject accuracy",
                "value": 100 * _accuracy(results),
                "unit": "%",
                "note": f"{'held-out part' if m.held_out else 'old set by folds'}; worst language "
                f"{min(per_language.values()) * 100:.1f} %; CPU p99 {_quantile(m.cpu_us, 99):.0f} µs",
            }
        )
    return figures


def main() -> None:
    print(report(measure_all(), memory_kib()))


if __name__ == "__main__":
    main()
