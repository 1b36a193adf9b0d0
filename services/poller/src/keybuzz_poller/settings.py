"""poller settings (DESIGN.md §7)."""

from typing import ClassVar

from keybuzz_shared.amazon.settings import AmazonSettings


class PollerSettings(AmazonSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {"http_port": "POLLER_PORT"}

    http_port: int = 8002
    poll_interval_seconds: int = 60
