"""docs/SERVICE_FRAME.md's table "Files of a service" against the tree.

Every file a cell names exists in that service; a ✓ means the row's file exists and a —
that it does not; every top-level module and sub-package of a service appears in its
column; and what the table calls pure (the ``domain.py`` row) imports no I/O.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.source_imports import imported_names

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "SERVICE_FRAME.md"
PACKAGES = {
    "oauth": "services/oauth/src/keybuzz_oauth",
    "orders": "services/orders/src/keybuzz_orders",
    "poller": "services/poller/src/keybuzz_poller",
    "tenant-sync": "services/tenant-sync/src/keybuzz_tenant_sync",
}
# What a pure module never imports: drivers, transports, the runtime, SQL.
IO_MODULES = (
    "asyncpg",
    "httpx",
    "nats",
    "litestar",
    "aiosmtplib",
    "aioimaplib",
    "imaplib",
    "smtplib",
    "keybuzz_shared.service",
    "keybuzz_shared.db",
    "keybuzz_shared.vault",
)
_PATH = re.compile(r"`([\w./]+(?:\.py|/))`")


def _table() -> tuple[list[str], list[list[str]]]:
    section = DOC.read_text().split("## Files of a service", 1)[1].split("\n## ", 1)[0]
    table = section.split("\n\n| file |", 1)[1].split("\n\n", 1)[0]
    lines = ["| file |" + table.splitlines()[0], *table.splitlines()[1:]]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, body = rows[0], [row for row in rows[2:] if row]
    return header[2:], body


def _row_file(row: list[str]) -> str | None:
    found = re.match(r"`([\w./]+\.py)`", row[0])
    return found[1] if found else None


def _cells() -> list[tuple[str, list[str], str]]:
    services, body = _table()
    return [(service, row, row[2 + i]) for row in body for i, service in enumerate(services)]


def test_the_table_has_a_column_per_service() -> None:
    assert _table()[0] == list(PACKAGES)


@pytest.mark.parametrize("service", list(PACKAGES))
def test_each_cell_says_what_the_tree_has(service: str) -> None:
    package = ROOT / PACKAGES[service]
    wrong = []
    for name, row, cell in _cells():
        if name != service:
            continue
        named = _PATH.findall(cell)
        wrong += [f"{row[0]}: {path} is missing" for path in named if not (package / path).exists()]
        own = _row_file(row)
        if own is None:
            continue
        if cell.startswith("✓") and not (package / own).exists():
            wrong.append(f"{row[0]}: ✓ but {own} is missing")
        if cell.startswith("—") and (package / own).exists():
            wrong.append(f"{row[0]}: — but {own} exists")
    assert wrong == []


@pytest.mark.parametrize("service", list(PACKAGES))
def test_every_module_and_sub_package_has_a_role(service: str) -> None:
    package = ROOT / PACKAGES[service]
    mentioned: set[str] = set()
    for name, row, cell in _cells():
        if name == service:
            mentioned |= set(_PATH.findall(cell))
            own = _row_file(row)
            if own and cell.startswith("✓"):
                mentioned.add(own)
    present = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    present |= {f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").exists()}
    assert sorted(present - mentioned) == []


@pytest.mark.parametrize("service", list(PACKAGES))
def test_what_the_table_calls_pure_imports_no_io(service: str) -> None:
    package = ROOT / PACKAGES[service]
    module_name = package.name
    impure = (*IO_MODULES, f"{module_name}.store", f"{module_name}.runtime")
    wrong = []
    for name, row, cell in _cells():
        if name != service or "pure" not in row[1]:
            continue
        paths = _PATH.findall(cell) or ([_row_file(row)] if cell.startswith("✓") else [])
        for path in paths:
            for imported in imported_names(package / str(path)):
                if any(imported == bad or imported.startswith(bad + ".") for bad in impure):
                    wrong.append(f"{path} imports {imported}")
                if imported.endswith(".store") and imported.startswith(module_name):
                    wrong.append(f"{path} imports {imported}")
    assert wrong == []
