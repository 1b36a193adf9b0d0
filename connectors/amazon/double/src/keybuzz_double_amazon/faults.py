"""Faults on the double's operations: SP-API's, and the LWA token endpoint's when named."""

from __future__ import annotations

from keybuzz_sandbox.faults import FaultInjector

# The LWA token endpoint (POST /auth/o2/token) as an operation name. Opt-in: faults
# apply to it only when `operations` names it, so "all operations" stays SP-API's.
LWA_OPERATION = "lwaToken"


class AmazonFaults(FaultInjector):
    def applies_to(self, op_key: str) -> bool:
        if op_key == LWA_OPERATION:
            return bool(op_key in self.config.operations)
        return super().applies_to(op_key)
