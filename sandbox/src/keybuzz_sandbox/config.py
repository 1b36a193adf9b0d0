"""Sandbox settings, read once from the environment into an immutable struct."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec

from .roles import DEFAULT_ROLES, parse_roles

T = TypeVar("T")

DEV_CLIENT_ID = "amzn1.application-oa2-client.keybuzz-sandbox"
DEV_CLIENT_SECRET = "keybuzz-sandbox-secret"
DEV_APPLICATION_ID = "amzn1.sp.solution.keybuzz-sandbox"
# A fixed default signing secret keeps developers' refresh tokens valid across restarts.
DEV_SIGNING_SECRET = "keybuzz-sandbox-signing-secret-dev-only"
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8001/api/v1/marketplaces/amazon/oauth/callback",
    "http://localhost:8001/api/v1/marketplaces/amazon/oauth/callback",
)
# Who sends through the reply front when SANDBOX_REPLY_FRONT_USERNAME is not set: the poller.
FRONT_USERNAME = "keybuzz-poller"


class ConfigError(ValueError):
    """A setting has a value the sandbox cannot use; the message names the variable."""


class SmtpLogin(msgspec.Struct, frozen=True):
    """A user and password an SMTP server takes (AUTH PLAIN or LOGIN); shown without the
    password, which stays out of logs, tracebacks and answers."""

    username: str
    password: str

    @classmethod
    def generated(cls, username: str = FRONT_USERNAME) -> SmtpLogin:
        return cls(username, secrets.token_urlsafe(24))

    def __repr__(self) -> str:
        return f"SmtpLogin(username={self.username!r}, password='***')"

    __str__ = __repr__


def is_loopback(host: str) -> bool:
    """``host`` is this machine's loopback interface only (no wildcard, no other interface)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FaultSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Faults injected on SP-API operations and, when named, LWA (see faults.py)."""

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    latency_ms: int = 0
    malformed_rate: float = 0.0
    malformed_kind: str = "invalid_json"
    operations: tuple[str, ...] = ()


# Amazon's endpoints keep an idle connection for about a minute (AWS load balancers'
# 60 s); uvicorn's 5 s default equals httpx's keep-alive expiry, so a client reusing a
# connection at that moment met a closed socket (RemoteProtocolError, then a retry).
AMAZON_IDLE_TIMEOUT_SECONDS = 60

# A double asked to stop cuts what it still answers after this long: a stalled answer (a
# fault that holds a request for a minute) never holds its stop, which uvicorn otherwise
# awaits to the end.
SHUTDOWN_GRACE_SECONDS = 1


class SandboxConfig(msgspec.Struct, kw_only=True, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8900
    public_url: str = "http://127.0.0.1:8900"
    seed: str = "keybuzz"
    time_scale: float = 1.0
    signing_secret: str = DEV_SIGNING_SECRET
    client_id: str = DEV_CLIENT_ID
    client_secret: str = DEV_CLIENT_SECRET
    application_id: str = DEV_APPLICATION_ID
    app_draft: bool = True
    redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS
    state_dir: str | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    # Amazon's relay for sellers' replies (reply_relay.py); port 0: any free port.
    reply_smtp_host: str = "127.0.0.1"
    reply_smtp_port: int = 2526
    # The reply front (reply_front.py): the development stack's outbound relay, forwarding
    # each reply to the relay double of its recipient's domain; port 0: any free port.
    reply_front_host: str = "127.0.0.1"
    reply_front_port: int = 2527
    # Who may send through the front (SMTP AUTH); None: the front does not serve, as an
    # outbound relay anyone on the machine could use is not served.
    reply_front_login: SmtpLogin | None = None
    bench_orders: int = 10_000
    # Each double's own settings (its package's ``env.py``), one value per double that has
    # some; ``of`` gives a double its own, its defaults when none was given.
    doubles: tuple[Any, ...] = ()
    faults: FaultSettings = FaultSettings()
    # SP-API roles of the application (roles.py): what restricted data it may see.
    app_roles: tuple[str, ...] = DEFAULT_ROLES
    # Amazon seconds before a created/updated order shows in getOrders/searchOrders,
    # and in order reports.
    listing_lag_seconds: float = 120.0
    report_lag_seconds: float = 600.0
    # Report documents: gzip those larger than this many bytes (Amazon compresses
    # large documents); "omit" leaves compressionAlgorithm out although the content
    # is gzipped (an inconsistency seen on Amazon), "declare" states it.
    report_gzip_min_bytes: int = 4096
    report_gzip_declaration: str = "declare"
    # The SQS endpoint notifications are delivered to (None: held until one is set).
    sqs_endpoint: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SandboxConfig:
        return config_from_env(os.environ if env is None else env)

    def __post_init__(self) -> None:
        if self.reply_front_login is not None and not is_loopback(self.reply_front_host):
            # Its AUTH travels in plain text (no TLS material in the dev stack): loopback only.
            raise ConfigError(
                f"SANDBOX_REPLY_FRONT_HOST={self.reply_front_host!r} is not valid: the reply "
                "front takes its password without TLS, so it listens on a loopback address only"
            )

    def of(self, kind: type[T]) -> T:
        """The settings of type ``kind`` (a double's), its defaults when not given."""
        return next((s for s in self.doubles if isinstance(s, kind)), None) or kind()


def _read(env: Mapping[str, str], name: str, parse: Callable[[str], Any], default: Any) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not valid: {exc}") from exc


def _doubles_settings(env: Mapping[str, str]) -> tuple[Any, ...]:
    from keybuzz_sandbox.doubles import doubles  # the doubles' packages import this module

    return tuple(
        double_settings(double.settings, f"SANDBOX_{double.name.upper()}_", env)
        for double in doubles().values()
        if double.settings is not None
    )


def double_settings(kind: type[T], prefix: str, env: Mapping[str, str]) -> T:
    """A double's settings: each field from ``<prefix><FIELD>`` when set, its default
    otherwise; ConfigError naming the variable of a value its type refuses."""
    fields: tuple[str, ...] = getattr(kind, "__struct_fields__", ())
    names = {field: f"{prefix}{field.upper()}" for field in fields}
    given = {field: env[name].strip() for field, name in names.items() if env.get(name, "").strip()}
    try:
        return msgspec.convert(given, kind, strict=False)
    except msgspec.ValidationError as exc:
        field = str(exc).rpartition("$.")[2].split("`")[0]
        name = names.get(field, prefix + "*")
        raise ConfigError(f"{name}={given.get(field)!r} is not valid: {exc}") from None


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def _non_negative(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535")
    return value


def _gzip_declaration(raw: str) -> str:
    if raw not in {"declare", "omit"}:
        raise ValueError("expected declare or omit")
    return raw


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")
    return value


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _malformed_kind(raw: str) -> str:
    if raw not in {"invalid_json", "schema"}:
        raise ValueError("expected invalid_json or schema")
    return raw


def _faults_from_env(env: Mapping[str, str]) -> FaultSettings:
    return FaultSettings(
        error_rate=_read(env, "SANDBOX_FAULT_ERROR_RATE", _fraction, 0.0),
        error_statuses=_read(
            env,
            "SANDBOX_FAULT_ERROR_STATUSES",
            lambda r: tuple(int(s) for s in _csv(r)),
            (500, 503),
        ),
        latency_ms=_read(env, "SANDBOX_FAULT_LATENCY_MS", int, 0),
        malformed_rate=_read(env, "SANDBOX_FAULT_MALFORMED_RATE", _fraction, 0.0),
        malformed_kind=_read(env, "SANDBOX_FAULT_MALFORMED_KIND", _malformed_kind, "invalid_json"),
        operations=_read(env, "SANDBOX_FAULT_OPERATIONS", _csv, ()),
    )


def _front_login(env: Mapping[str, str]) -> SmtpLogin | None:
    password = env.get("SANDBOX_REPLY_FRONT_PASSWORD", "").strip()
    if not password:
        return None
    return SmtpLogin(_read(env, "SANDBOX_REPLY_FRONT_USERNAME", str, FRONT_USERNAME), password)


def config_from_env(env: Mapping[str, str]) -> SandboxConfig:
    host = _read(env, "SANDBOX_HOST", str, "127.0.0.1")
    port = _read(env, "SANDBOX_PORT", int, 8900)
    extra_uris = _read(env, "SANDBOX_REDIRECT_URIS", _csv, ())
    return SandboxConfig(
        host=host,
        port=port,
        public_url=_read(
            env, "SANDBOX_PUBLIC_URL", lambda r: r.rstrip("/"), f"http://{host}:{port}"
        ),
        seed=_read(env, "SANDBOX_SEED", str, "keybuzz"),
        time_scale=_read(env, "SANDBOX_TIME_SCALE", _positive_float, 1.0),
        signing_secret=_read(env, "SANDBOX_SECRET", str, DEV_SIGNING_SECRET),
        client_id=_read(env, "SANDBOX_CLIENT_ID", str, DEV_CLIENT_ID),
        client_secret=_read(env, "SANDBOX_CLIENT_SECRET", str, DEV_CLIENT_SECRET),
        application_id=_read(env, "SANDBOX_APPLICATION_ID", str, DEV_APPLICATION_ID),
        app_draft=_read(env, "SANDBOX_APP_DRAFT", _bool, True),
        redirect_uris=DEFAULT_REDIRECT_URIS
        + tuple(u for u in extra_uris if u not in DEFAULT_REDIRECT_URIS),
        state_dir=_read(env, "SANDBOX_STATE_DIR", str, None),
        smtp_host=_read(env, "SANDBOX_SMTP_HOST", str, "127.0.0.1"),
        smtp_port=_read(env, "SANDBOX_SMTP_PORT", int, 2525),
        reply_smtp_host=_read(env, "SANDBOX_REPLY_SMTP_HOST", str, "127.0.0.1"),
        reply_smtp_port=_read(env, "SANDBOX_REPLY_SMTP_PORT", _port, 2526),
        reply_front_host=_read(env, "SANDBOX_REPLY_FRONT_HOST", str, "127.0.0.1"),
        reply_front_port=_read(env, "SANDBOX_REPLY_FRONT_PORT", _port, 2527),
        reply_front_login=_front_login(env),
        bench_orders=_read(env, "SANDBOX_BENCH_ORDERS", int, 10_000),
        doubles=_doubles_settings(env),
        faults=_faults_from_env(env),
        app_roles=_read(env, "SANDBOX_APP_ROLES", parse_roles, DEFAULT_ROLES),
        listing_lag_seconds=_read(env, "SANDBOX_LISTING_LAG_SECONDS", _non_negative, 120.0),
        report_lag_seconds=_read(env, "SANDBOX_REPORT_LAG_SECONDS", _non_negative, 600.0),
        report_gzip_min_bytes=_read(env, "SANDBOX_REPORT_GZIP_MIN_BYTES", _non_negative_int, 4096),
        report_gzip_declaration=_read(
            env, "SANDBOX_REPORT_GZIP_DECLARATION", _gzip_declaration, "declare"
        ),
        sqs_endpoint=_read(env, "SANDBOX_SQS_ENDPOINT", lambda r: r.rstrip("/") or None, None),
    )
