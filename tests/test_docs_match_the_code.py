"""The code the docs cite exists (fast, no servers); that they name every connector family
the registry serves is tests/test_docs_list_the_registry.py's.

A reference in backticks that looks like code — a file path, a dotted
``keybuzz_…`` name, ``module.Name``, a ``make`` target, ``python -m`` and its command —
must name something in the tree. docs/BENCHMARKS.md is left out: its results name the
code they were measured on."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.repository_files import tracked_files

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    ROOT / "deploy/k8s/README.md",
    *(p for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "BENCHMARKS.md"),
]
TOP_FOLDERS = {"services", "connectors", "shared", "devstack", "sandbox", "tests", "docs"}
TOP_FOLDERS |= {"deploy", "bench", ".ci"}
CODE_SUFFIX = re.compile(r"\.(py|sql|ya?ml|json|toml|md|html|js|css|txt)$")
# What `make run` and the tests write at run time, never in the tree.
RUNTIME_DATA = ".data/"
# Placeholders and elisions stand for many names, not one.
PLACEHOLDER = re.compile(r"[<>*{}…]|\.\.\.|NNN")


# --- references to code ------------------------------------------------------------------


def _tails(path: str) -> Iterator[str]:
    """Every way a doc may cite ``path``: its last k parts, with a package's
    ``keybuzz_``/``keybuzz_connector_`` prefix or without (``fnac/connector.py``)."""
    parts = path.split("/")
    for k in range(1, len(parts) + 1):
        tail = parts[-k:]
        yield "/".join(tail)
        yield "/".join(re.sub(r"^keybuzz_(connector_)?", "", p) for p in tail)


@cache
def citable_paths() -> frozenset[str]:
    cited: set[str] = set()
    for path in tracked_files():
        parts = path.split("/")
        for end in range(1, len(parts) + 1):
            cited.update(_tails("/".join(parts[:end])))
    return frozenset(cited)


@cache
def python_sources() -> str:
    return "\n".join((ROOT / p).read_text() for p in tracked_files() if p.endswith(".py"))


@cache
def tracked_names() -> frozenset[str]:
    return frozenset(Path(p).name for p in tracked_files())


@cache
def shipped_sources() -> str:
    """The packages' code, tests left out: what runs, and so what writes files."""
    return "\n".join(
        (ROOT / p).read_text() for p in tracked_files() if p.endswith(".py") and "/src/" in p
    )


@cache
def defined_names() -> frozenset[str]:
    """Every function, class, attribute and module-level name the Python tree defines."""
    source = python_sources()
    names = set(re.findall(r"^\s*(?:async\s+def|def|class)\s+(\w+)", source, re.MULTILINE))
    names |= set(re.findall(r"^\s*(\w+)\s*(?::[^=\n]+)?=", source, re.MULTILINE))
    names |= set(re.findall(r"^\s+(\w+)\s*:", source, re.MULTILINE))
    return frozenset(names)


@cache
def module_stems() -> frozenset[str]:
    return frozenset(Path(p).stem for p in tracked_files() if p.endswith(".py"))


def _is_path(ref: str) -> bool:
    if not re.fullmatch(r"\.?[\w.-]+(/[\w.-]+)+/?", ref):
        return False
    first = ref.split("/")[0]
    return (
        bool(CODE_SUFFIX.search(ref.rstrip("/")))
        or first in TOP_FOLDERS
        or first.startswith("keybuzz_")
    )


def _path_exists(ref: str) -> bool:
    path = ref.rstrip("/").removeprefix("./")
    if path in citable_paths():
        return True
    # ../shared beside the project (the specs, models and notes the docs cite) is not in
    # every clone: checked where it is, taken on trust where it is not.
    first, _, rest = path.partition("/")
    if first == "shared" and rest and not (ROOT / first / rest.split("/")[0]).exists():
        sibling = ROOT.parent / "shared"
        return (ROOT.parent / path).exists() if sibling.is_dir() else True
    return False


def _dotted_exists(ref: str) -> bool:
    names = ref.removesuffix("()").split(".")
    for end in range(len(names), 0, -1):
        try:
            found: object = importlib.import_module(".".join(names[:end]))
        except ImportError:
            continue
        for name in names[end:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def _python_m_exists(module: str, command: str | None) -> bool:
    if (ROOT / module / "__main__.py").exists():
        return True
    try:
        if importlib.util.find_spec(module) is None:
            return False
    except ImportError:
        return False
    if command and module == "keybuzz_devstack":
        main = (ROOT / "devstack/src/keybuzz_devstack/__main__.py").read_text()
        return f'"{command}"' in main
    return True


def dangling(ref: str) -> str | None:
    """Why ``ref`` names nothing in the tree, or None (found, or not a reference to code)."""
    if PLACEHOLDER.search(ref) or ref.startswith(("/", "http", RUNTIME_DATA)):
        return None
    if _is_path(ref):
        return None if _path_exists(ref) else "no such file or folder"
    if re.fullmatch(r"[\w.-]+", ref) and CODE_SUFFIX.search(ref):
        # A file the code writes at run time counts when the code names it.
        return None if ref in tracked_names() or ref in shipped_sources() else "no such file"
    if re.fullmatch(r"keybuzz_\w+(\.\w+)+(\(\))?", ref):
        return None if _dotted_exists(ref) else "no such module or name"
    if match := re.fullmatch(r"([a-z_]\w*)\.([A-Z]\w*|[a-z]\w*_\w*)(\(.*\))?", ref):
        module, name = match.group(1), match.group(2)
        if module in module_stems() and name not in defined_names():
            return f"{name} is defined nowhere"
        return None
    if match := re.fullmatch(r"make ([\w-]+)", ref):
        makefile = (ROOT / "Makefile").read_text()
        found = re.search(rf"^{re.escape(match.group(1))}:", makefile, re.MULTILINE)
        return None if found else "no such make target"
    if match := re.fullmatch(r"(?:\S*/)?python3? -m ([\w.]+)(?: ([a-z][\w-]*))?.*", ref):
        if not _python_m_exists(match.group(1), match.group(2)):
            return "no such module or command"
    return None


def references(path: Path) -> Iterator[tuple[int, str]]:
    in_fence = False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if not in_fence:
            for ref in re.findall(r"`([^`\n]+)`", line):
                yield number, ref.strip()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_code_a_doc_cites_exists(doc: Path) -> None:
    found = [
        f"{doc.relative_to(ROOT)}:{number}: `{ref}`: {why}"
        for number, ref in references(doc)
        if (why := dangling(ref))
    ]
    assert found == []


@pytest.mark.parametrize(
    "ref",
    [
        "mailkit.TcpCut",
        "keybuzz_shared.ids.amazon_order_ids_in",
        "services/poller/src/keybuzz_poller/nowhere.py",
        "fnac/no_such_module.py",
        "make no-such-target",
        "python -m keybuzz_devstack no-such-command",
        "no_such_file.py",
    ],
)
def test_a_dangling_reference_is_found(ref: str) -> None:
    assert dangling(ref) is not None


@pytest.mark.parametrize(
    "ref",
    [
        "keybuzz_devstack.outage.Outage",
        "keybuzz_connector_amazon.ids.amazon_order_ids_in",
        "fnac/connector.py",
        "shops/replies.py",
        "make test",
        "python -m keybuzz_devstack install-system-packages",
        "text/plain",
        "secret/keybuzz/tenants/<tenantId>/fnac_api",
    ],
)
def test_a_reference_to_existing_code_or_no_code_passes(ref: str) -> None:
    assert dangling(ref) is None


# --- code blocks ---------------------------------------------------------------------------


def unclosed_blocks(text: str) -> list[int]:
    """The lines where a code block opens and is never closed: one opened with a language
    inside another means the other lost its closing fence (a merge of two entries)."""
    unclosed: list[int] = []
    opened: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        fence = line.strip()
        if not fence.startswith("```"):
            continue
        if opened is None:
            opened = number
        elif fence == "```":
            opened = None
        else:
            unclosed.append(opened)
            opened = number
    return unclosed + ([opened] if opened is not None else [])


@pytest.mark.parametrize(
    "doc", [*DOCS, ROOT / "docs/BENCHMARKS.md"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_code_block_is_closed(doc: Path) -> None:
    assert unclosed_blocks(doc.read_text()) == []


def test_a_lost_closing_fence_is_found() -> None:
    assert unclosed_blocks("```sh\nrun\n### next\n```sh\nrun\n```\n") == [1]
    assert unclosed_blocks("```\nplain\n```\n```sh\nleft open\n") == [4]
