"""Faults a double plays on its operations, its authentication endpoint's only when named:
"all operations" stays the API's, and a test opts the token endpoint in."""

from __future__ import annotations

from keybuzz_sandbox.faults import FaultConfig, FaultInjector


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
