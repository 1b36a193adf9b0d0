"""docs/CONTRACTS.md's subject table is what the code publishes and consumes.

The table is generated from ``keybuzz_shared.contracts.ROUTES`` (the same table the
AsyncAPI document comes from): ``python -m tests.test_contracts_doc`` rewrites it.
"""

from __future__ import annotations

import re
from pathlib import Path

from keybuzz_shared.contracts import ROUTES

DOC = Path(__file__).resolve().parents[1] / "docs" / "CONTRACTS.md"
BLOCK = re.compile(
    r"(<!-- subjects:[^\n]*-->\n\| subject[^\n]*\n\| ---[^\n]*\n)(.*?)(<!-- end subjects -->)",
    re.DOTALL,
)


def subject_rows() -> str:
    def names(parties: tuple[str, ...]) -> str:
        return ", ".join(parties) or "—"

    return "".join(
        f"| `{subject}` | {names(route.producers)} | {names(route.consumers)} | {route.meaning} |\n"
        for subject, route in ROUTES.items()
    )


def test_the_subject_table_matches_the_code() -> None:
    match = BLOCK.search(DOC.read_text())
    assert match, "docs/CONTRACTS.md lost its generated subject table"
    assert match.group(2) == subject_rows(), "run: .venv/bin/python -m tests.test_contracts_doc"


if __name__ == "__main__":
    DOC.write_text(BLOCK.sub(lambda m: m.group(1) + subject_rows() + m.group(3), DOC.read_text()))
