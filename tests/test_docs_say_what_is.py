"""Docs and source comments describe the system as it is; its history lives in git.

Scanned: README.md and docs/*.md (but docs/BENCHMARKS.md, where dated runs and
before/after figures belong), and the comments and docstrings of the Python sources
under shared/src, connectors/*/src, services/*/src, devstack/src and sandbox/src (tests are
not scanned).

Each pattern below marks a sentence that narrates a change instead of stating what the
code does and why: an issue number, "Before:", "used to", "no longer", "was measured",
"we tried". Allowed on purpose: "no longer than" (a length), and "used to" as a passive
participle ("the token used to fetch the next page"): only "used to" after a subject
("it used to", "we used to") or before a past-habit verb ("used to be", "used to pass")
is history.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HISTORY = re.compile(
    "|".join(
        (
            r"\bissues?\s+#?\d+",
            r"(?-i:\bBefore:)",  # capitalised: "handled before: nothing changes" is fine
            r"\b(?:it|we|this|they|that|which|there)\s+used\s+to\b",
            r"\bused\s+to\s+(?:be|pass|stay|take|go|move|run|send|make|have|print|log|accept|cost|hold)\b",
            r"\bno\s+longer\b(?!\s+than)",
            r"\bwas\s+measured\b",
            r"\bmeasured\s+worse\b",
            r"\bwe\s+tried\b",
            r"\bwas\s+tried\b",
            r"\btried\s+twice\b",
            r"\ban\s+audit\s+of\b",
            r"\bwhere\s+the\s+issue\s+was\s+silent\b",
            r"\bwhat\s+(?:happens|the\s+mx\s+does)\s+now\b",
            r"\bthe\s+former\s+parser\b",
        )
    ),
    re.IGNORECASE,
)


def documents() -> list[Path]:
    docs = [p for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "BENCHMARKS.md"]
    return [ROOT / "README.md", *docs]


def sources() -> list[Path]:
    roots = [ROOT / "shared" / "src", ROOT / "devstack" / "src", ROOT / "sandbox" / "src"]
    roots += sorted((ROOT / "connectors").glob("*/src"))
    roots += sorted((ROOT / "services").glob("*/src"))
    return [p for root in roots for p in sorted(root.rglob("*.py"))]


def prose_of(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring of a Python module."""
    found = [
        (token.start[0], token.string)
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    tree = ast.parse(source)
    owners = [
        tree,
        *(
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ),
    ]
    for owner in owners:
        body = owner.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            if isinstance(body[0].value.value, str):
                found.append((body[0].lineno, body[0].value.value))
    return found


def history_in(text: str) -> list[str]:
    # Docstrings and Markdown wrap lines: a phrase may span a line break.
    return [m.group(0) for m in HISTORY.finditer(" ".join(text.split()))]


def test_docs_say_what_the_system_does_not_what_it_was() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {phrase!r}"
        for path in documents()
        for number, paragraph in paragraphs(path.read_text(encoding="utf-8"))
        for phrase in history_in(paragraph)
    ]
    assert not found, "history in the docs (say what is; history is in git):\n" + "\n".join(found)


def test_source_comments_and_docstrings_say_why_not_what_happened() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {phrase!r}"
        for path in sources()
        for number, text in prose_of(path.read_text(encoding="utf-8"))
        for phrase in history_in(text)
    ]
    assert not found, "history in comments or docstrings:\n" + "\n".join(found)


def paragraphs(text: str) -> list[tuple[int, str]]:
    """(first line, text) of each blank-line separated block of a Markdown page."""
    blocks: list[tuple[int, str]] = []
    start, lines = 1, []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not lines:
                start = number
            lines.append(line)
        elif lines:
            blocks.append((start, "\n".join(lines)))
            lines = []
    if lines:
        blocks.append((start, "\n".join(lines)))
    return blocks


def test_the_patterns_catch_history_and_spare_plain_english() -> None:
    """The check itself: what it must flag, and the allowed phrases it must not."""
    flagged = [
        "as issue 20 asked",
        "(issue 10 §6)",
        "Before: NATS accepted anonymous clients",
        "The callback used to be bound only to state",
        "a forged event used to move every mail",
        "hvac is no longer\nused by the services",
        "was tried twice and measured worse",
        "An audit of issue 11's points",
    ]
    spared = [
        "a token used to fetch the next page",
        "a line no longer than 998 characters",
        "the text is used to build the subject",
        "return  # this bounce was handled before: nothing changes",
    ]
    assert all(history_in(text) for text in flagged), [t for t in flagged if not history_in(t)]
    assert not any(history_in(text) for text in spared), [t for t in spared if history_in(t)]
