"""poller settings (DESIGN.md §7)."""

from typing import ClassVar

from keybuzz_shared.amazon.settings import AmazonSettings


class PollerSettings(AmazonSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {"http_port": "POLLER_PORT"}
    # The development IMAP password is refused in production (settings.py).
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = AmazonSettings.DEV_ONLY_DEFAULTS | {
        "imap_password"
    }

    http_port: int = 8002
    # Every tenant with an inbound address is polled once per interval (docs/POLLER.md).
    poll_interval_seconds: int = 60
    # How long an instance holds a tenant without renewing: a dead instance's tenants
    # are taken over after this (capped at the interval).
    poll_lease_seconds: float = 30.0
    # false: this instance polls nothing (serves HTTP, NATS and the MX only).
    poll_enabled: bool = True
    poll_concurrency: int = 8  # tenants one instance polls at the same time
    # A failing tenant is retried after base, 2 x base, 4 x base … up to max (at least the interval).
    poll_retry_base_seconds: float = 5.0
    poll_retry_max_seconds: float = 600.0
    inbound_domain: str = "inbound.keybuzz.test"

    # Dovecot: the poller reads each tenant's folder over IMAP; the MX delivers over LMTP.
    imap_host: str = "127.0.0.1"
    imap_port: int = 8143
    imap_user: str = "keybuzz"
    imap_password: str = "keybuzz-dev-imap"
    lmtp_host: str = "127.0.0.1"
    lmtp_port: int = 8024

    # Demo mode (docs/POLLER.md, "Mock source"): polls read fixed mails about the sandbox
    # seller's orders instead of Dovecot. Refused when KEYBUZZ_ENV is production-like.
    amazon_use_mock: bool = False

    # The MX (SMTP for INBOUND_DOMAIN) inside the poller process (docs/POLLER.md).
    mx_host: str = "127.0.0.1"
    mx_port: int = 2525
    # Amazon relays attachments up to 10 MB; base64 makes them a third larger.
    mx_max_message_bytes: int = 25 * 1024 * 1024

    def __post_init__(self) -> None:
        # msgspec turns this into a SettingsError naming AMAZON_USE_MOCK (settings.load_settings).
        if self.amazon_use_mock and self.is_production:
            raise ValueError(f"AMAZON_USE_MOCK=true is refused when KEYBUZZ_ENV={self.keybuzz_env}")
