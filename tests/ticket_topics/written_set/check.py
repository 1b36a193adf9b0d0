"""Validate the written set (README.md beside this file) and print its counts.

    python3 tests/ticket_topics/written_set/check.py            # validate, print counts
    python3 tests/ticket_topics/written_set/check.py --partial  # allow a set still being written
    python3 tests/ticket_topics/written_set/check.py --resplit  # rewrite both files by the split rule
    python3 tests/ticket_topics/written_set/check.py --markdown  # the counts as README.md shows them

Stdlib only. The subject and language labels are read from the taxonomy module's source
(not imported), so this runs without the project's virtualenv.
"""

from __future__ import annotations

import ast
import collections
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
TAXONOMY = REPO / "shared/src/keybuzz_shared/ticket_topics/taxonomy.py"
OLD_SET = HERE.parent / "labeled_messages.jsonl"
PARTS = ("tuning", "held_out")
KEYS = ("id", "marketplace", "language", "subject", "text", "traits")
MARKETPLACES = (
    "AMAZON",
    "FNAC",
    "DARTY",
    "CDISCOUNT",
    "BACKMARKET",
    "MIRAKL_DECATHLON",
    "MIRAKL_LEROY_MERLIN",
    "MIRAKL_LA_REDOUTE",
    "MIRAKL_CARREFOUR",
    "MANOMANO",
    "RAKUTEN",
    "EBAY",
    "KAUFLAND",
)
TRAITS = (
    "negation",
    "two_asks",
    "before_shipping",
    "after_shipping",
    "quoted_history",
    "marketplace_footer",
    "sms_style",
    "typos",
    "word_sense",
    "long_rant",
    "signature",
    "no_diacritics",
)
# What the finished set holds at least (README.md, "Size and mix").
MIN_TOTAL = 2000
MIN_PER_LANGUAGE = {
    "fr": 450,
    "en": 220,
    "de": 220,
    "es": 220,
    "it": 220,
    "pl": 150,
    "nl": 150,
    "pt": 150,
}
MIN_PER_CELL = 12  # a language × subject cell, both parts together
MIN_HARD_SHARE = 0.25  # messages with at least one trait
TUNING_SHARE = 0.6
ID_FORMAT = re.compile(r"^w-([a-z]{2})-(\d{4})$")


def taxonomy_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The subject labels (``Subject``) and languages (``RULE_LANGUAGES``) of the taxonomy."""
    tree = ast.parse(TAXONOMY.read_text(encoding="utf-8"))
    subjects: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            target, value = node.target.id, node.value
        else:
            continue
        if target == "Subject" and isinstance(value, ast.Subscript):
            subjects = tuple(ast.literal_eval(value.slice))
        elif target == "RULE_LANGUAGES":
            languages = tuple(ast.literal_eval(value))
    if not subjects or not languages:
        sys.exit(f"could not read Subject / RULE_LANGUAGES from {TAXONOMY}")
    return subjects, languages


def load(part: str) -> list[dict]:
    path = HERE / f"{part}.jsonl"
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            sys.exit(f"{path.name}:{number}: not JSON ({error})")
    return rows


def split(rows: list[dict]) -> dict[str, list[dict]]:
    """The split rule: in each language × subject cell, the messages ordered by id are
    shuffled with a seed named after the cell; the first 60 % (rounded half up) tune, the
    rest are held out. A cell's split depends on that cell's messages only."""
    cells: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
    for row in rows:
        cells[(row["language"], row["subject"])].append(row)
    parts: dict[str, list[dict]] = {part: [] for part in PARTS}
    for (language, subject), cell in sorted(cells.items()):
        cell.sort(key=lambda row: row["id"])
        random.Random(f"{language}/{subject}").shuffle(cell)
        cut = int(TUNING_SHARE * len(cell) + 0.5)
        parts["tuning"] += cell[:cut]
        parts["held_out"] += cell[cut:]
    for part in PARTS:
        parts[part].sort(key=lambda row: row["id"])
    return parts


def write(part: str, rows: list[dict]) -> None:
    """Write through a temporary file, so a reader never sees half a file."""
    path = HERE / f"{part}.jsonl"
    temporary = path.with_suffix(".jsonl.tmp")
    with temporary.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps({key: row[key] for key in KEYS}, ensure_ascii=False) + "\n")
    os.replace(temporary, path)


def published_tuning_texts() -> set[str] | None:
    """Every text that tuning.jsonl held in any commit of this repository's history, so
    a message once offered for tuning never becomes a held-out one; None outside git."""
    relative = (HERE / "tuning.jsonl").relative_to(REPO).as_posix()
    try:
        log = subprocess.run(
            ["git", "-C", str(REPO), "log", "--format=%H", "--", relative],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    texts: set[str] = set()
    for commit in log:
        shown = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{commit}:{relative}"],
            capture_output=True,
            text=True,
        )
        for line in shown.stdout.splitlines():
            try:
                texts.add(json.loads(line)["text"])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return texts


def problems(parts: dict[str, list[dict]], partial: bool) -> list[str]:
    subjects, languages = taxonomy_names()
    found: list[str] = []
    old_ids = {json.loads(line)["id"] for line in OLD_SET.read_text(encoding="utf-8").splitlines()}
    old_texts = {
        json.loads(line)["text"] for line in OLD_SET.read_text(encoding="utf-8").splitlines()
    }
    ids: set[str] = set()
    texts: dict[str, str] = {}
    for part, rows in parts.items():
        for row in rows:
            where = f"{part}:{row.get('id')}"
            if tuple(row) != KEYS:
                found.append(f"{where}: keys {tuple(row)} are not {KEYS}")
                continue
            match = ID_FORMAT.match(row["id"]) if isinstance(row["id"], str) else None
            if not match or match[1] != row["language"]:
                found.append(f"{where}: id is not w-<language>-<4 digits>")
            if row["id"] in ids or row["id"] in old_ids:
                found.append(f"{where}: id used twice or by labeled_messages.jsonl")
            ids.add(row["id"])
            if row["marketplace"] not in MARKETPLACES:
                found.append(f"{where}: marketplace {row['marketplace']!r}")
            if row["language"] not in languages:
                found.append(f"{where}: language {row['language']!r}")
            if row["subject"] not in subjects:
                found.append(f"{where}: subject {row['subject']!r}")
            traits = row["traits"]
            if (
                not isinstance(traits, list)
                or any(t not in TRAITS for t in traits)
                or len(set(traits)) != len(traits)
            ):
                found.append(f"{where}: traits {traits!r}")
            text = row["text"]
            if not isinstance(text, str) or not text.strip():
                found.append(f"{where}: empty text")
            elif text in texts:
                found.append(f"{where}: same text as {texts[text]}")
            elif text in old_texts:
                found.append(f"{where}: text copied from labeled_messages.jsonl")
            else:
                texts[text] = where
    if found:
        return found
    everything = [row for rows in parts.values() for row in rows]
    expected = split(everything)
    for part in PARTS:
        if [row["id"] for row in parts[part]] != [row["id"] for row in expected[part]]:
            found.append(f"{part}.jsonl does not follow the split rule (run with --resplit)")
    published = published_tuning_texts()
    for row in parts["held_out"] if published is not None else []:
        if row["text"] in published:
            found.append(f"held_out:{row['id']}: was in tuning.jsonl in an earlier commit")
    cells = collections.Counter((row["language"], row["subject"]) for row in everything)
    present = sorted({row["language"] for row in everything})
    for language in present:
        for subject in subjects:
            if cells[(language, subject)] < MIN_PER_CELL:
                found.append(
                    f"{language} × {subject}: {cells[(language, subject)]} < {MIN_PER_CELL}"
                )
    hard = sum(1 for row in everything if row["traits"])
    if everything and hard < MIN_HARD_SHARE * len(everything):
        found.append(
            f"{hard} of {len(everything)} messages carry a trait, under {MIN_HARD_SHARE:.0%}"
        )
    if not partial:
        if len(everything) < MIN_TOTAL:
            found.append(f"{len(everything)} messages < {MIN_TOTAL}")
        per_language = collections.Counter(row["language"] for row in everything)
        for language, least in MIN_PER_LANGUAGE.items():
            if per_language[language] < least:
                found.append(f"{language}: {per_language[language]} messages < {least}")
    return found


def summary(rows: list[dict]) -> tuple[list[tuple[str, list[int]]], str, str]:
    """One part's counts: (subject, per-language counts) rows with a total row last, the
    traits line and the marketplaces line."""
    subjects, languages = taxonomy_names()
    cells = collections.Counter((row["language"], row["subject"]) for row in rows)
    grid = [(subject, [cells[(lang, subject)] for lang in languages]) for subject in subjects]
    grid.append(("total", [sum(counts[i] for _, counts in grid) for i in range(len(languages))]))
    traits = collections.Counter(t for row in rows for t in row["traits"])
    hard = sum(1 for row in rows if row["traits"])
    traits_line = f"{hard} with at least one; " + ", ".join(f"{t} {traits[t]}" for t in TRAITS)
    market = collections.Counter(row["marketplace"] for row in rows)
    market_line = ", ".join(f"{m} {market[m]}" for m in MARKETPLACES)
    return grid, traits_line, market_line


def table(parts: dict[str, list[dict]]) -> str:
    languages = taxonomy_names()[1]
    lines = []
    for part in PARTS:
        grid, traits_line, market_line = summary(parts[part])
        lines.append(f"\n{part}.jsonl: {len(parts[part])} messages")
        lines.append(f"{'subject':24}" + "".join(f"{x:>6}" for x in (*languages, "total")))
        for name, counts in grid:
            lines.append(f"{name:24}" + "".join(f"{n:>6}" for n in (*counts, sum(counts))))
        lines += [f"traits: {traits_line}", f"marketplaces: {market_line}"]
    return "\n".join(lines)


def markdown(parts: dict[str, list[dict]]) -> str:
    languages = taxonomy_names()[1]
    lines = []
    for part in PARTS:
        grid, traits_line, market_line = summary(parts[part])
        lines += [f"### `{part}.jsonl`: {len(parts[part])} messages", ""]
        lines.append("| subject | " + " | ".join(languages) + " | total |")
        lines.append("|---|" + "---:|" * (len(languages) + 1))
        for name, counts in grid:
            label = "**total**" if name == "total" else f"`{name}`"
            lines.append(f"| {label} | " + " | ".join(map(str, (*counts, sum(counts)))) + " |")
        lines += ["", f"Traits: {traits_line}.", "", f"Marketplaces: {market_line}.", ""]
    return "\n".join(lines)


def main() -> None:
    parts = {part: load(part) for part in PARTS}
    if "--resplit" in sys.argv:
        parts = split([row for rows in parts.values() for row in rows])
        for part in PARTS:
            write(part, parts[part])
    found = problems(parts, partial="--partial" in sys.argv)
    print(markdown(parts) if "--markdown" in sys.argv else table(parts))
    if found:
        print("\n".join(["", "PROBLEMS:", *found[:50]]))
        sys.exit(1)
    print("\nok")


if __name__ == "__main__":
    main()
