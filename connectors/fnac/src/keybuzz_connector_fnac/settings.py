"""Settings of the Fnac/Darty seller API (docs/CONTRACTS.md, "Configuration"): one API for
both marketplaces, so Darty's shops use the same FNAC_ settings (but for their interval)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from keybuzz_shared.connectors.connector_settings import (
    ConnectorSettings,
    ShopApiSettings,
    file_origins,
)

from keybuzz_connector_fnac.names import DARTY, FNAC

FNAC_API_URL = "https://vendeur.fnac.com/api.php/"


class FnacApiSettings(ConnectorSettings, kw_only=True, frozen=True):
    # Production's endpoint by default; ``make run`` points it at the sandbox's double.
    fnac_api_url: str = FNAC_API_URL
    # Each read or connect; a shop's call as a whole (its retries, a re-authentication) is
    # cut after FNAC_CALL_DEADLINE_SECONDS, however the answer trickles in.
    fnac_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    fnac_call_deadline_seconds: Annotated[float, msgspec.Meta(gt=0)] = 20.0
    # Each connected shop is polled once per interval (docs/POLLER.md, "Marketplace shops").
    fnac_poll_interval_seconds: Annotated[int, msgspec.Meta(ge=1)] = 60
    # Darty's shops at their own interval; unset: FNAC_POLL_INTERVAL_SECONDS.
    darty_poll_interval_seconds: Annotated[int, msgspec.Meta(ge=1)] | None = None
    # After a message is stored, mark it read at Fnac (the back office shows it handled).
    fnac_mark_as_read: bool = True
    # How far back a shop's first poll reads.
    fnac_first_poll_days: Annotated[int, msgspec.Meta(ge=1)] = 30
    # Each file a message links is downloaded up to this size (larger: named, not stored).
    fnac_max_attachment_bytes: Annotated[int, msgspec.Meta(ge=1)] = 10 * 1024 * 1024
    # The only origins (scheme://host[:port], separated by commas) a message's files are
    # fetched from; empty: FNAC_API_URL's (docs/SECURITY.md, "Files a message links").
    fnac_attachment_origins: str = ""

    def shop_api(self, marketplace: str) -> ShopApiSettings | None:
        if marketplace not in (FNAC, DARTY):
            return None
        return ShopApiSettings(
            api_url=self.fnac_api_url,
            timeout_seconds=self.fnac_timeout_seconds,
            call_deadline_seconds=self.fnac_call_deadline_seconds,
            poll_interval_seconds=self.poll_interval_of(darty=marketplace == DARTY),
            mark_as_read=self.fnac_mark_as_read,
            first_poll_days=self.fnac_first_poll_days,
            max_attachment_bytes=self.fnac_max_attachment_bytes,
            attachment_origins=self.fnac_file_origins,
        )

    def poll_interval_of(self, darty: bool) -> int:
        """The poll interval of Fnac's shops, or of Darty's (``darty``)."""
        if darty and self.darty_poll_interval_seconds is not None:
            return self.darty_poll_interval_seconds
        return self.fnac_poll_interval_seconds

    @property
    def fnac_file_origins(self) -> tuple[str, ...]:
        return file_origins(self.fnac_attachment_origins, [self.fnac_api_url])

    def __post_init__(self) -> None:
        origins = (("FNAC_ATTACHMENT_ORIGINS", o) for o in self.fnac_file_origins)
        self.check_addresses([("FNAC_API_URL", self.fnac_api_url), *origins])
