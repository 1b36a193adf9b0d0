"""Mutable sandbox state that must survive restarts when SANDBOX_STATE_DIR is set.

Only what cannot be derived is kept: the timeline anchor, and each double's own
(``doubles``: by its name, a JSON document it reads and writes itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from keybuzz_sandbox.files import write_private


class PersistentState(msgspec.Struct, kw_only=True):
    anchor: float
    # A double's name -> what it keeps (e.g. its shops' advances, keys rotated at run time).
    doubles: dict[str, Any] = msgspec.field(default_factory=dict)


class StateStore:
    FILENAME = "sandbox-state.json"

    def __init__(self, state_dir: str | None) -> None:
        self._path = Path(state_dir) / self.FILENAME if state_dir else None

    def load(self, default_anchor: float) -> PersistentState:
        if self._path is None or not self._path.exists():
            return PersistentState(anchor=default_anchor)
        return msgspec.json.decode(self._path.read_bytes(), type=PersistentState)

    def save(self, state: PersistentState) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # Whole, so that a crash never leaves a half-written file.
        write_private(self._path, msgspec.json.encode(state))
