"""What the Dockerfile's stages install, read from its text (no Docker engine runs here)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_STAGE = re.compile(r"^FROM\s+\S+\s+AS\s+(\w+)\s*$", re.MULTILINE | re.IGNORECASE)


def stages() -> dict[str, str]:
    """stage name → its text, in the file's order (the last one is what a plain build makes)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    marks = list(_STAGE.finditer(text))
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return {m.group(1): text[m.end() : end] for m, end in zip(marks, ends, strict=True)}


def installed_paths(stage: str) -> set[Path]:
    """The folders the stage's ``pip install`` installs, its globs expanded."""
    [command] = [line for line in stages()[stage].splitlines() if "pip install" in line]
    words = command.split("pip install", 1)[1].split("&&", 1)[0].split()
    return {p.resolve() for w in words if w.startswith("./") for p in ROOT.glob(w[2:])}
