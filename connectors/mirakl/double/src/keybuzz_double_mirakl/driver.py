"""The Mirakl double's conformance driver (``keybuzz_sandbox.conformance``): one
operator stands for all."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from keybuzz_sandbox.conformance import Fault
from keybuzz_sandbox.double_entry import Double
from keybuzz_sandbox.double_kit.driver import ListedShopsDriver, suite_pace

from keybuzz_double_mirakl import DOUBLE

# The suite's pace for a Mirakl shop (docs/SANDBOX.md, "Drivers for the conformance suite"):
# M11 at least 0.5 s apart, polled every 2 s (0.5 rounded up, plus the margin: a shorter
# interval would shorten the poll's deadline too); the double's own M11 frequency, 0.3 s
# (its 60 s at clock scale 20, times the factor), stays under it: no poll meets a 429.
MIRAKL_SUITE_M11_SECONDS = 0.5
MIRAKL_SUITE_POLL_MARGIN_SECONDS = 1
MIRAKL_SUITE_FREQUENCY_FACTOR = 0.1


@dataclass(frozen=True, kw_only=True)
class MiraklDriver(ListedShopsDriver):
    """One operator of Mirakl's double (docs/SANDBOX.md, "Mirakl double"): a reply goes to
    the customer or the operator; a key has no token, nothing expires."""

    reading: tuple[str, ...] = ("M11", "M10")
    replying: str = "M12"
    revoking: str = "rotate-key"
    answer_cap: int = 32 * 2**20  # the Mirakl connector's MAX_RESPONSE_BYTES
    faults_at: str = "/_sandbox/mirakl"
    tokenless: str = "a Mirakl API key has no token"

    account = "shopId"
    listed_as = {"api_key": "apiKey", "shop_id": "shopId"}
    recipient_kinds = {"CUSTOMER": "BUYER", "OPERATOR": "MARKETPLACE_SUPPORT"}
    suite_settings = {"EXTRA_SHOPS": "2", "FREQUENCY_FACTOR": str(MIRAKL_SUITE_FREQUENCY_FACTOR)}
    logged_to = "to"
    buyer_says = {"sender": "CUSTOMER"}
    staff_says = {"sender": "OPERATOR", "to": ["CUSTOMER", "SHOP"]}

    def service_settings(self, sandbox_url: str) -> dict[str, str]:
        catalogue = json.loads(self.double.service_env(sandbox_url)["MIRAKL_CATALOGUE"])
        for entry in catalogue:
            entry["frequencies"] = {"M11": MIRAKL_SUITE_M11_SECONDS}
        return {
            "MIRAKL_CATALOGUE": json.dumps(catalogue),
            **suite_pace("MIRAKL", polled_every_two_seconds=False),
            "MIRAKL_POLL_MARGIN_SECONDS": str(MIRAKL_SUITE_POLL_MARGIN_SECONDS),
        }

    def fault_settings(self, fault: Fault, ids: list[str]) -> dict[str, Any]:
        settings = super().fault_settings(fault, ids)
        code = self.marketplace
        settings["operations"] = [f"{code}.{o}" for o in settings.get("operations", [])]
        return settings

    @property
    def shops_listed_at(self) -> str:
        return f"{self.faults_at}/operators"

    async def listed(self, http: httpx.AsyncClient) -> list[Mapping[str, Any]]:
        [operator] = [o for o in await super().listed(http) if o["code"] == self.marketplace]
        return list(operator["shops"])


def operated(marketplace: str, double: Double = DOUBLE) -> MiraklDriver:
    """The driver of one operator of the double, its admin under the double's."""
    admin = f"{MiraklDriver.faults_at}/operators/{marketplace}"
    return MiraklDriver(marketplace=marketplace, admin=admin, double=double)


def lister(marketplace: str) -> MiraklDriver | None:
    """The driver listing a seeded operator's shops, made as BOULANGER's is (the
    ``Double``'s ``listers_at``: every operator the double seeds shows a shop in
    `make run`'s banner); None for a marketplace no seeded operator is."""
    from .operators import OPERATORS  # its shops' specs: loaded when a banner asks

    if marketplace not in {operator.code for operator in OPERATORS}:
        return None
    return operated(marketplace)
