"""Faults a double plays on its operations, its authentication endpoint's only when named:
"all operations" stays the API's, and a test opts the token endpoint in; the bounds of a
double's misbehaviour settings."""

from __future__ import annotations

from typing import Annotated

import msgspec

from keybuzz_sandbox.faults import FaultConfig, FaultInjector

# Bounds a double's settings declare, checked as a body is read (off them: a 400).
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]
NextCount = Annotated[int, msgspec.Meta(ge=0)]  # the next n calls (or mails) to misbehave


class OptInFaults(FaultInjector):
    """Faults on every operation the config names (all when it names none), and on
    ``opt_in`` (``<double>.<name>`` or a bare name) only when it is named."""

    def __init__(self, seed: str, initial: FaultConfig, opt_in: str) -> None:
        super().__init__(seed, initial)
        self.opt_in = opt_in

    def applies_to(self, op_key: str) -> bool:
        if op_key == self.opt_in:
            names = self.config.operations
            return op_key in names or op_key.partition(".")[2] in names
        return super().applies_to(op_key)
