"""poller settings (docs/CONTRACTS.md, "Configuration")."""

from typing import Annotated, ClassVar

import msgspec
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.settings import AtLeastOne, Seconds, too_short

# The largest reply body the HTTP route reads (app.py): 10 MB of attachments in base64
# (13.3 MiB) plus text and names, with room for the checks to name the relay's limit. A
# memory budget below it could never let such a reply in.
REPLY_MAX_BODY_BYTES = 20 * 1024 * 1024


class PollerSettings(MarketplaceSettings, kw_only=True, frozen=True):
    ENV_NAMES: ClassVar[dict[str, str]] = {"http_port": "POLLER_PORT"}
    # The development IMAP password is refused in production (settings.py).
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = MarketplaceSettings.DEV_ONLY_DEFAULTS | {
        "imap_password",
        "smtp_relay_password",
        "bounce_signing_secret",
    }
    STRONG_SECRETS: ClassVar[frozenset[str]] = MarketplaceSettings.STRONG_SECRETS | {
        "bounce_signing_secret"
    }

    http_port: int = 8002
    # A shop's key read from Vault once in this long rather than at every poll (a third of an
    # XML poll's CPU, docs/BENCHMARKS.md), dropped on a reconnect, a disconnect or a refusal (docs/POLLER.md).
    vault_cache_seconds: float = 600.0
    vault_cache_size: int = 50_000
    # Every tenant with an inbound address is polled once per interval (docs/POLLER.md): the
    # safety net; mail the MX stores makes its tenant due at once ("Push on delivery").
    poll_interval_seconds: int = 300
    # How long an instance holds a tenant without renewing: a dead instance's tenants
    # are taken over after this (capped at the interval).
    poll_lease_seconds: float = 30.0
    # false: this instance polls nothing (serves HTTP, NATS and the MX only).
    poll_enabled: bool = True
    # Tenants' folders one instance polls at the same time, and its IMAP connections.
    poll_concurrency: int = 8
    # A failing tenant is retried after base, 2 x base, 4 x base … up to max (at least the interval).
    poll_retry_base_seconds: float = 5.0
    poll_retry_max_seconds: float = 600.0
    inbound_domain: str = "inbound.keybuzz.test"

    # Marketplace shops polled over an API (docs/POLLER.md, "Marketplace shops"): their
    # settings are their connectors' (``MarketplaceSettings.shop_api``), and these, so that a
    # failing shop cannot hold the others up ("Slow and failing shops"): a shop's poll is cut
    # after SHOP_POLL_DEADLINE_SECONDS; one running longer than SHOP_POLL_SLOW_SECONDS gives
    # its slot of SHOP_POLL_CONCURRENCY back; shops in back-off are polled in slots of their
    # own, SHOP_POLL_BACKOFF_CONCURRENCY at a time. A shop's poll waits on HTTP most of its
    # time: 64 at once keep 10,000 + 10,000 shops at 60 s on time (docs/BENCHMARKS.md).
    shop_poll_concurrency: AtLeastOne = 64
    shop_poll_deadline_seconds: Seconds = 30.0
    shop_poll_slow_seconds: Seconds = 1.0
    shop_poll_backoff_concurrency: AtLeastOne = 2

    # Dovecot: the poller reads each tenant's folder over IMAP; the MX delivers over LMTP.
    imap_host: str = "127.0.0.1"
    imap_port: int = 8143
    imap_user: str = "keybuzz"
    imap_password: str = "keybuzz-dev-imap"
    lmtp_host: str = "127.0.0.1"
    lmtp_port: int = 8024

    # One mail's parse budget (docs/POLLER.md, "Parse budget"): past any of them the mail is
    # stored with its parse error, unparsed, and the other mails go on.
    parse_max_parts: AtLeastOne = 1000
    parse_max_depth: AtLeastOne = 20
    parse_max_seconds: Seconds = 5.0

    # Demo mode (docs/POLLER.md, "Mock source"): ``mail_relay_demo``, a connector's setting.
    # The MX (SMTP for INBOUND_DOMAIN) inside the poller process (docs/POLLER.md).
    mx_host: str = "127.0.0.1"
    mx_port: int = 2525
    # A relay's attachments reach 10 MB; base64 makes them a third larger.
    mx_max_message_bytes: int = 25 * 1024 * 1024

    # Replies leave through the marketplace's mail relay (docs/POLLER.md, "Replies").
    # Development: the sandbox's reply relay. Production: STARTTLS (certificate always verified; a private CA
    # with SMTP_RELAY_CACERT) and a user/password, both required there.
    smtp_relay_host: str = "127.0.0.1"
    smtp_relay_port: int = 2526
    smtp_relay_starttls: bool = False
    smtp_relay_cacert: str | None = None
    smtp_relay_username: str | None = None
    smtp_relay_password: str | None = None
    smtp_relay_timeout_seconds: float = 30.0
    # false: this instance sends no replies (it still queues them; another instance sends).
    reply_sender_enabled: bool = True
    # How often an instance looks for response alerts that are due (ticket.response_due,
    # ticket.response_overdue): an alert is given at most this late.
    response_alert_interval_seconds: float = 15.0
    # A claimed reply is taken again by any instance after this (a sender that died mid-send).
    reply_lease_seconds: float = 120.0
    # Temporary failures (4xx, relay down) are retried after about base x 2^n (jittered),
    # capped at max; after reply_max_attempts attempts the reply is FAILED.
    reply_retry_base_seconds: float = 5.0
    reply_retry_max_seconds: float = 900.0
    reply_max_attempts: int = 10
    # What replies hold in memory at once (docs/SECURITY.md, "Replies: bounded attachments …"):
    # bytes of reply bodies being read, checked, composed and stored, on this instance and
    # per tenant; beyond them a reply is answered 503 / 429 with Retry-After. A body byte
    # costs about 8 in memory at the peak (the body, its JSON text, the decoded attachments,
    # the composed mail): two maximum-size replies at once per instance, one per tenant,
    # keep the pod (768Mi) clear (docs/BENCHMARKS.md).
    reply_memory_budget_bytes: Annotated[int, msgspec.Meta(ge=REPLY_MAX_BODY_BYTES)] = (
        32 * 1024 * 1024
    )
    reply_tenant_memory_budget_bytes: Annotated[int, msgspec.Meta(ge=REPLY_MAX_BODY_BYTES)] = (
        REPLY_MAX_BODY_BYTES
    )
    # One sending round claims replies until their mails total this (at least one): each
    # mail is copied about 4 times on its way to the relay.
    reply_send_batch_bytes: AtLeastOne = 16 * 1024 * 1024

    # The MX's limits (docs/SECURITY.md, "The MX's limits"). Sessions beyond either cap are
    # answered 421 and closed; in production the edge MTA is the one client, so the
    # per-client cap is the concurrency it may use. Disk: up to MX_MAX_SESSIONS mails of
    # MX_MAX_MESSAGE_BYTES are spooled at once (deploy/k8s sizes the spool volume for it).
    mx_max_sessions: AtLeastOne = 100
    mx_max_sessions_per_client: AtLeastOne = 50
    # No command (in DATA: no byte) for this long ends the session; so does its total length.
    mx_idle_timeout_seconds: Seconds = 60.0
    mx_session_timeout_seconds: Seconds = 600.0
    # Per mail, RFC 5321's minimum; more get 452.
    mx_max_recipients: AtLeastOne = 100
    # DATA is spooled: in memory up to this size, then in a file in MX_SPOOL_DIR
    # (unset: the system's temporary directory).
    mx_spool_memory_bytes: Annotated[int, msgspec.Meta(ge=0)] = 256 * 1024
    mx_spool_dir: str | None = None

    # Bounces authenticate themselves (docs/POLLER.md, "Bounces"): each reply's envelope
    # sender carries an HMAC-SHA256 signature made with this key, and a DSN counts only at
    # such an address. At least 32 bytes (always); a development value is refused in production.
    # Rotation: the new key here, the old one in BOUNCE_SIGNING_PREVIOUS_SECRET until the
    # replies sent with it are past their bounces (days).
    bounce_signing_secret: str = "keybuzz-dev-bounce-signing-secret-not-for-production"
    bounce_signing_previous_secret: str | None = None

    @property
    def bounce_signing_keys(self) -> tuple[bytes, ...]:
        """The key replies are signed with first, then the one still accepted."""
        previous = self.bounce_signing_previous_secret
        return (self.bounce_signing_secret.encode(),) + ((previous.encode(),) if previous else ())

    def __post_init__(self) -> None:
        # msgspec turns these into a SettingsError naming the variable (settings.load_settings).
        if self.is_production and not self.smtp_relay_starttls:
            raise ValueError(
                f"SMTP_RELAY_STARTTLS=true is required when KEYBUZZ_ENV={self.keybuzz_env}"
            )
        for name in ("bounce_signing_secret", "bounce_signing_previous_secret"):
            # In every environment: a short key would make signatures guessable.
            if problem := too_short(name.upper(), getattr(self, name)):
                raise ValueError(problem)
        if self.reply_tenant_memory_budget_bytes > self.reply_memory_budget_bytes:
            raise ValueError(
                "REPLY_TENANT_MEMORY_BUDGET_BYTES must not exceed REPLY_MEMORY_BUDGET_BYTES"
            )
        if self.reply_lease_seconds <= 2 * self.smtp_relay_timeout_seconds:
            # A send still running when its lease ends could be sent again by another instance.
            raise ValueError("REPLY_LEASE_SECONDS must exceed twice SMTP_RELAY_TIMEOUT_SECONDS")
