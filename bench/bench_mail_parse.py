"""What parsing one relay mail costs: the poller's parser now, before, and the candidates.

The mails are the parser's golden set (services/poller/tests/mails: the relay mails
the repo builds, and the corpus of odd mails from mail libraries' test suites).
Each parser reads every mail ``ROUNDS`` times, in this one process, one parser
after the other on the same mails; a figure is the mean per mail, in µs:

- ``relay_mail.parse`` now (stdlib ``email`` with ``policy.compat32`` and our own
  decoding of the headers read, reading/mime.py): the whole RelayMail;
- the same as of commit ``BEFORE`` (``policy.default``), read with ``git show``
  (left out, with a note, where git or that commit is missing): the baseline;
- the parse alone, no RelayMail: ``policy.default``, ``policy.compat32`` and, when
  installed, ``fast-mail-parser`` (the Rust ``mail-parser`` crate), to see what is left
  to gain. It is not a project dependency: nats-py parses NATS message headers with it
  whenever it can import it, and fast-mail-parser 0.10 gives each header as a list,
  which broke every header we read (``Nats-Msg-Id`` came back ``['…']``). Install it
  in a separate venv to measure it: ``pip install fast-mail-parser``.

No server is used. Run by hand: ``.venv/bin/python -m bench bench_mail_parse``
(``BENCH_MAIL_PARSE_ROUNDS``, default 200: about a minute here). The machine is shared:
each figure is the best of 5 batches of the rounds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from keybuzz_poller.reading import relay_mail

from bench.harness import BenchContext, Figure

ROUNDS = int(os.environ.get("BENCH_MAIL_PARSE_ROUNDS", "200"))
BATCHES = 5
ROOT = Path(__file__).parents[1]
MAILS = ROOT / "services/poller/tests/mails"
BEFORE = "46ea338"  # the last commit whose parser used policy.default
PARSER_PATH = "services/poller/src/keybuzz_poller/reading/relay_mail.py"
TYPICAL = "relay/bench-poller.eml"  # the 1.5 KB French relay mail of bench_poller

Parser = Callable[[bytes], object]
NOW = "relay_mail.parse (ratio < 1: cheaper than before)"
BASELINE = f"relay_mail.parse as of {BEFORE} (policy.default)"
# Imports of the old parser whose names have moved since: where they are now.
MOVED_IMPORTS = {
    b"from keybuzz_shared.ids import amazon_order_ids_in": (
        b"from keybuzz_connector_amazon.ids import amazon_order_ids_in"
    ),
}


def _mails() -> dict[str, list[tuple[str, bytes]]]:
    sets: dict[str, list[tuple[str, bytes]]] = {"relay": [], "corpus": []}
    for path in sorted(MAILS.glob("*/*.eml")):
        name = path.relative_to(MAILS).as_posix()
        sets[path.parent.name].append((name, path.read_bytes()))
    return sets


def _parser_before() -> Parser | None:
    """relay_mail.parse as of ``BEFORE``, loaded from git; None when it cannot be."""
    shown = subprocess.run(
        ["git", "show", f"{BEFORE}:{PARSER_PATH}"], cwd=ROOT, capture_output=True, check=False
    )
    if shown.returncode != 0:
        return None
    module = types.ModuleType("relay_mail_before")
    sys.modules[module.__name__] = module  # msgspec resolves the Structs' annotations there
    source = shown.stdout
    for old, new in MOVED_IMPORTS.items():
        source = source.replace(old, new)
    exec(compile(source, f"{BEFORE}:{PARSER_PATH}", "exec"), module.__dict__)
    return _with_budget(module.parse, module.ParseBudget())


def _per_mail_us(parsers: dict[str, Parser], mails: list[tuple[str, bytes]]) -> dict[str, float]:
    """Each parser's mean µs per mail over ``ROUNDS`` passes: the best of ``BATCHES``
    batches, the parsers taking turns batch by batch, so a burst of load from
    elsewhere on this shared machine hits them alike; one warm-up pass first."""
    for parse in parsers.values():
        for _, raw in mails:
            parse(raw)
    rounds = max(1, ROUNDS // BATCHES)
    best = dict.fromkeys(parsers, float("inf"))
    for _ in range(BATCHES):
        for name, parse in parsers.items():
            start = time.perf_counter()
            for _ in range(rounds):
                for _, raw in mails:
                    parse(raw)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: seconds / (rounds * len(mails)) * 1e6 for name, seconds in best.items()}


def _with_budget(parse: Callable[[bytes, Any], object], budget: Any) -> Parser:
    """As the parse workers call it: with the default budget (its part count included)."""
    return lambda raw: parse(raw, budget)


def _candidates() -> dict[str, Parser]:
    default, compat32 = BytesParser(policy=policy.default), BytesParser(policy=policy.compat32)
    candidates: dict[str, Parser] = {
        "parse only: stdlib policy.default": default.parsebytes,
        "parse only: stdlib policy.compat32": compat32.parsebytes,
    }
    try:
        import fast_mail_parser  # noqa: PLC0415 - optional: see the module's docstring
    except ImportError:
        return candidates
    tree = _never_raising(fast_mail_parser.parse_email_tree)
    return {**candidates, "parse only: fast-mail-parser tree": tree}


def _never_raising(parse: Parser) -> Parser:
    """Like relay_mail.parse, a mail it cannot read costs what it cost to find out."""

    def parse_or_none(raw: bytes) -> object:
        try:
            return parse(raw)
        except Exception:
            return None

    return parse_or_none


async def run(ctx: BenchContext) -> list[Figure]:
    sets = _mails()
    sets["typical"] = [m for m in sets["relay"] if m[0] == TYPICAL]
    before = _parser_before()
    parsers = {NOW: _with_budget(relay_mail.parse, relay_mail.ParseBudget()), **_candidates()}
    if before:
        parsers[BASELINE] = before
    figures: list[Figure] = []
    for label, mails in sets.items():
        costs = _per_mail_us(parsers, mails)
        baseline = costs.get(BASELINE)
        note = f"{len(mails)} mails × {ROUNDS}, best of {BATCHES} batches; baseline: {BASELINE}"
        for name, cost in costs.items():
            if name == BASELINE:
                continue
            figures.append(
                {
                    "name": f"{name}, {label} mails",
                    "value": cost,
                    "unit": "µs/mail",
                    "baseline": baseline,
                    "note": note if name == NOW else "the MIME tree only: no RelayMail",
                }
            )
    if not before:
        figures[0]["note"] += f" ({BEFORE} not found: no baseline)"
    return figures
