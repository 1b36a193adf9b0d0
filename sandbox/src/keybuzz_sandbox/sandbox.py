"""The running sandbox: what every double's routes share (settings, clock, persistent
state, the echoed secret); each double keeps its own beside it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from keybuzz_sandbox.echo import EchoSecret

from .clock import Clock
from .config import SandboxConfig
from .state import PersistentState, StateStore

# A Litestar lifespan: a context manager for the application's run.
Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = StateStore(config.state_dir)
        self.state: PersistentState = self.store.load(default_anchor=float(int(Clock(1.0).now())))
        self.clock = Clock(config.time_scale, anchor=self.state.anchor)
        # The shop-API doubles' refusals repeat the credential sent, transformed (echo.py).
        self.echo = EchoSecret()
        # What a double keeps in ``state`` beyond what it writes there at once, written
        # before each save (a double's routes add theirs when the app is made).
        self.before_save: list[Callable[[], None]] = []
        # What a double serves while the app runs beside its routes (a relay double's SMTP server),
        # added by its routes when the app is made; then the reply front, added by the app.
        self.lifespans: list[Lifespan] = []
        # Each double's own running parts by its name, for its tests to look into.
        self.parts: dict[str, Any] = {}
        self.save()

    def save(self) -> None:
        for record in self.before_save:
            record()
        self.store.save(self.state)
