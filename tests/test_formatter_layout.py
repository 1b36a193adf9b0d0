"""The code is laid out by the formatter everywhere: no region exempted from it.

`ruff format --check` (make lint) accepts any line under ``# fmt: skip`` or between
``# fmt: off`` and ``# fmt: on``, and E501 is off: exemptions had crammed calls and tables
onto lines of up to 150 characters, which read badly and made line counts say less than
the code holds (docs/BENCHMARKS.md counts lines with ``wc -l``).
"""

from __future__ import annotations

import os
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {".venv", ".git", ".data", "node_modules", "__pycache__"}
EXEMPTION = re.compile(r"#\s*fmt:\s*(skip|off|on)\b")


def python_files() -> list[Path]:
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED]
        found += [Path(folder, name) for name in files if name.endswith(".py")]
    return found


def exemptions(path: Path) -> list[int]:
    """Lines of ``path`` whose comment exempts code from the formatter (comments only: a
    string that merely quotes the words does not count)."""
    with path.open("rb") as source:
        return [
            token.start[0]
            for token in tokenize.tokenize(source.readline)
            if token.type == tokenize.COMMENT and EXEMPTION.search(token.string)
        ]


def test_no_code_is_exempted_from_the_formatter() -> None:
    found = {
        str(path.relative_to(ROOT)): lines for path in python_files() if (lines := exemptions(path))
    }
    assert found == {}


def test_an_exemption_in_a_comment_is_found_and_one_in_a_string_is_not(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text('TABLE = {"a": 1}  # fmt: skip\nTEXT = "# fmt: off"\n')
    assert exemptions(module) == [1]
