"""Settings of every Mirakl operator's shops (docs/MIRAKL.md, "Settings"): one type for all
the operators of the catalogue (each operator's connector names it), read from the MIRAKL_
variables by every service that talks to the shops. Where an operator's API is and how
often it may be polled are the catalogue's (catalogue.py), read when a view is asked for:
an operator added after a service started gets its view from the settings it holds."""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
from keybuzz_shared.connectors.connector_settings import ConnectorSettings, ShopApiSettings
from keybuzz_shared.file_links import origin_of, production_problem, shown

from keybuzz_connector_mirakl.catalogue import (
    CATALOGUE_ENV,
    CATALOGUE_FILE_ENV,
    Operator,
    operator,
)

# How far back a shop's first poll reads its threads by default, in days.
FIRST_POLL_DAYS = 30


class MiraklApiSettings(ShopApiSettings, frozen=True, kw_only=True):
    """One operator's API as its sessions and credential check are given it: ``api_url``
    is the operator's base URL (calls at ``<api_url>/api/...``)."""

    operator: str  # the operator's code, the marketplace value
    operator_name: str  # as sellers know it: "Leroy Merlin"
    response_hours: float  # how long the operator gives a shop to answer
    # Seconds between two order listings' first pages (OR11): the operator's frequency,
    # else Mirakl's "once per minute" at most [official].
    orders_interval_seconds: float = 60.0


class MiraklSettings(ConnectorSettings, kw_only=True, frozen=True):
    # Each connect or read; a shop's call as a whole (its retries, a Retry-After waited
    # within it) is cut after MIRAKL_CALL_DEADLINE_SECONDS.
    mirakl_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    mirakl_call_deadline_seconds: Annotated[float, msgspec.Meta(gt=0)] = 20.0
    # Each shop is polled once per interval, unless its operator's catalogue entry sets
    # M11's frequency (then that).
    mirakl_poll_interval_seconds: Annotated[int, msgspec.Meta(ge=1)] = 300
    # Added to an operator's M11 frequency. None is needed: a shop's next poll is due an
    # interval after its last one ended (docs/POLLER.md, "Scheduling"), so no M11 call
    # follows the last sooner than the frequency (docs/BENCHMARKS.md, Mirakl).
    mirakl_poll_margin_seconds: Annotated[int, msgspec.Meta(ge=0)] = 0
    mirakl_first_poll_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = FIRST_POLL_DAYS
    # Each file of a message is downloaded (M13) up to this size (larger: named only).
    mirakl_max_attachment_bytes: Annotated[int, msgspec.Meta(ge=1)] = 10 * 1024 * 1024
    # The catalogue's overrides (catalogue.py): the variables connectors() reads from the
    # process environment, read here too so that a view follows the settings it is asked of.
    mirakl_catalogue: str = ""
    mirakl_catalogue_file: str = ""

    def shop_api(self, marketplace: str) -> MiraklApiSettings | None:
        environ = {
            CATALOGUE_ENV: self.mirakl_catalogue,
            CATALOGUE_FILE_ENV: self.mirakl_catalogue_file,
        }
        found = operator(marketplace, environ)
        if found is None:
            return None
        self.check_base_url(found)
        frequency = found.frequency("M11")
        return self.api_view(
            MiraklApiSettings,
            "mirakl",
            api_url=found.base_url,
            operator=found.code,
            operator_name=found.name,
            response_hours=found.response_hours,
            poll_interval_seconds=(
                self.mirakl_poll_interval_seconds
                if frequency is None
                else max(1, math.ceil(frequency) + self.mirakl_poll_margin_seconds)
            ),
            # M11 answered once per the operator's frequency: no poll of a shop starts
            # sooner after its last one ended, whatever made it due (kit/pacing.py).
            call_frequency_seconds=frequency,
            mark_as_read=False,  # Mirakl's seller API has no read mark
            attachment_origins=(shown(origin_of(found.base_url)),),
            orders_interval_seconds=found.frequency("OR11") or 60.0,
        )

    def check_base_url(self, found: Operator) -> None:
        """ValueError when production-like settings meet a base URL inside our network or
        not https (a catalogue entry meant for the dev stack)."""
        if self.is_production and (problem := production_problem(found.base_url)):
            raise ValueError(
                f"Mirakl operator {found.code}: baseUrl {found.base_url} {problem}: refused "
                f"when KEYBUZZ_ENV={self.keybuzz_env}"
            )
