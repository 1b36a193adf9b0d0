"""Every answer of the classifier written down, to check that a change of how it computes
them changes none: ``python -m tests.ticket_topics.same_answers write answers.json`` before
the change, ``… check answers.json`` after. The texts: every message of tests/ticket_topics'
data and the written set, each also in capitals (the language model lowers a text all in
capitals) and cut to its first 40 characters (a short text, where the detector is unsure);
each classified alone, and ten at a time as a page is; an answer is its whole ``Topics``
(the confidence included)."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec
from keybuzz_shared.ticket_topics import BuyerMessage, Topics, classify, classify_each

from tests.ticket_topics.measure import extra_tuning, labeled, written


def texts() -> list[str]:
    found = [m.text for m in labeled() + written("tuning") + written("held_out") + extra_tuning()]
    return found + [t.upper() for t in found] + [t[:40] for t in found]


def answers(of: list[str]) -> dict[str, list[Topics]]:
    page = 10
    return {
        "alone": [classify(text) for text in of],
        "page": [
            topics
            for at in range(0, len(of), page)
            for topics in classify_each([BuyerMessage(t) for t in of[at : at + page]])
        ],
    }


def main(action: str, path: str) -> int:
    listed = texts()
    found = answers(listed)
    if found["alone"] != found["page"]:
        print("a page's answer differs from the text's alone")
        return 1
    if action == "write":
        Path(path).write_bytes(msgspec.json.encode({"texts": listed, **found}))
        print(f"{len(listed)} texts' answers written to {path}")
        return 0
    kept = msgspec.json.decode(Path(path).read_bytes())
    if kept["texts"] != listed:
        print("not the same texts")
        return 1
    before = msgspec.convert(kept["alone"], list[Topics])
    differ = [(t, b, a) for t, b, a in zip(listed, before, found["alone"], strict=True) if b != a]
    for text, b, a in differ[:20]:
        print(f"{text[:60]!r}: {b} → {a}")
    print(f"{len(listed)} texts, {len(differ)} answers differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
