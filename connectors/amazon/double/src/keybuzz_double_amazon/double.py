"""Amazon's double while the sandbox runs, on the sandbox's ``Sandbox`` (docs/SANDBOX.md)."""

from __future__ import annotations

from typing import Any

import msgspec
from keybuzz_sandbox.clock import SellerTimeline
from keybuzz_sandbox.double_kit.faults import OptInFaults
from keybuzz_sandbox.double_kit.presigned import Presigner
from keybuzz_sandbox.double_kit.replies import Recent
from keybuzz_sandbox.double_kit.sealed import Signer
from keybuzz_sandbox.double_kit.tokens import Issued
from keybuzz_sandbox.faults import FaultConfig
from keybuzz_sandbox.ratelimit import RateLimiter
from keybuzz_sandbox.sandbox import Sandbox

from .env import DEFAULT_REDIRECT_URIS, LWA_OPERATION, AmazonDoubleSettings
from .notification_delivery import NotificationBook
from .order_book import OrderBook
from .relay import RELAY_LOG_LIMIT
from .report_store import ReportStore
from .seed import SellerGenerator, SellerSpec, default_sellers

AUTH_CODE_LIFETIME = 300.0  # Amazon seconds: spapi_oauth_code is valid for 5 minutes


class AuthCode(msgspec.Struct, frozen=True):
    seller_id: str
    redirect_uri: str
    expires_at: float  # real epoch seconds


class Kept(msgspec.Struct, kw_only=True):
    """What the double keeps in the sandbox's state across restarts (under "amazon")."""

    revoked_refresh_tokens: list[str] = msgspec.field(default_factory=list)
    # seller id -> epoch seconds: refresh tokens issued at or before it are revoked.
    revoked_sellers: dict[str, float] = msgspec.field(default_factory=dict)
    redirect_uris: list[str] = msgspec.field(default_factory=list)
    advances: dict[str, list[tuple[float, float]]] = msgspec.field(default_factory=dict)
    # The reply relay's (reply_relay.py): seller id -> lower-cased addresses; buyer aliases.
    approved_senders: dict[str, list[str]] = msgspec.field(default_factory=dict)
    blocked_senders: dict[str, list[str]] = msgspec.field(default_factory=dict)
    opted_out_buyers: list[str] = msgspec.field(default_factory=list)


class AmazonDouble:
    """What Amazon's routes share: the sandbox's parts under their names, its own settings."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.config = config = sandbox.config
        self.settings = settings = config.of(AmazonDoubleSettings)
        self.clock = sandbox.clock
        self.state = sandbox.state
        self.kept = msgspec.convert(self.state.doubles.get("amazon", {}), Kept)
        self.signer = Signer(settings.signing_secret)
        # Report documents' URLs, as Amazon's S3 pre-signs them.
        self.documents = Presigner(self.signer.mac, "AKIASANDBOXDOCUMENTS", "eu-west-1")
        self.limiter = RateLimiter(self.clock)
        initial = msgspec.convert(settings.faults, FaultConfig, from_attributes=True)
        self.faults = OptInFaults(config.seed, initial, LWA_OPERATION)
        self.sellers: dict[str, OrderBook] = {
            spec.seller_id: self._book(spec) for spec in default_sellers(settings.bench_orders)
        }
        self.auth_codes: Issued[AuthCode] = Issued(self.clock)  # single use, in memory
        self.reports = ReportStore()
        self.messages_sent = 0
        self.templated_sent: list[Any] = []  # Messaging API's messages, as sent (messaging.py)
        # The last relay mails sent, the buyer's alias each was from, by Message-ID: what
        # tells a reply on the buyer's thread (reply_relay.py).
        self.relay_log: Recent[str] = Recent(RELAY_LOG_LIMIT)
        self.reply_smtp_port: int | None = None  # bound port, once the reply relay serves
        self.notifications = NotificationBook(config.seed, settings, self.clock, self.sellers)
        self.save = sandbox.save
        sandbox.before_save.append(self._record)
        self.save()

    def _book(self, spec: SellerSpec) -> OrderBook:
        timeline = SellerTimeline(self.clock, list(self.kept.advances.get(spec.seller_id, [])))
        return OrderBook(SellerGenerator(self.config.seed, spec, self.clock.anchor), timeline)

    def _record(self) -> None:
        """Writes what it keeps into the sandbox's state (before each save)."""
        self.kept.advances = {sid: list(book.timeline.jumps) for sid, book in self.sellers.items()}
        self.state.doubles["amazon"] = msgspec.to_builtins(self.kept)

    @property
    def redirect_uris(self) -> list[str]:
        """The defaults, SANDBOX_REDIRECT_URIS's, then those registered at run time, once each."""
        given = (
            *DEFAULT_REDIRECT_URIS,
            *self.settings.extra_redirect_uris,
            *self.kept.redirect_uris,
        )
        return list(dict.fromkeys(given))

    def is_revoked(self, jti: str, seller_id: str, issued_at: float) -> bool:
        cutoff = self.kept.revoked_sellers.get(seller_id)
        return jti in self.kept.revoked_refresh_tokens or (
            cutoff is not None and issued_at <= cutoff
        )

    def senders(self, seller_id: str, blocked: bool) -> list[str]:
        """The reply relay's approved senders of the seller (its blocked ones with
        ``blocked``), lower case: the list kept."""
        table = self.kept.blocked_senders if blocked else self.kept.approved_senders
        return table.setdefault(seller_id, [])

    def set_listed(self, listed: list[str], item: str, on: bool) -> None:
        """``item`` once in ``listed`` (one of the lists kept) when ``on``, not at all
        otherwise; saved."""
        if on and item not in listed:
            listed.append(item)
        elif not on and item in listed:
            listed.remove(item)
        self.save()
