"""Settings from environment variables (docs/CONTRACTS.md, "Configuration").

Each service declares a msgspec ``Struct`` subclass of :class:`CommonSettings`;
every field is read from the upper-cased environment variable of the same name
(or the name given in ``ENV_NAMES``). A field without a default is required. Settings
other packages own (a connector's, :class:`PartSettings`) are read with them from the
same environment, the same way (``CommonSettings.part_types``).

``KEYBUZZ_ENV`` must be one of :data:`ENVIRONMENTS`; a typo (``prd``,
``"production "``) stops the service instead of silently meaning "not
production". In ``staging`` and ``production`` the development values are
refused, not only when left unset: a secret copied from this file is as known
as a default, and an empty Vault token must not go unnoticed. See
docs/SECURITY.md, "Settings in production".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self, TypeVar
from urllib.parse import unquote, urlsplit

import msgspec

from keybuzz_shared.redaction import REDACTED, is_secret_name, redact_text

DEV_VAULT_TOKEN = "keybuzz-dev-root"
DEV_JWT_SECRET = "keybuzz-dev-secret-change-me-in-production"
DEV_INTERNAL_API_KEY = "keybuzz-dev-internal"
# The development PostgreSQL's (devstack): password authentication there too, never trust.
DEV_POSTGRES_PASSWORD = "keybuzz-dev-postgres"
# Every development value (root and per-service Vault tokens, keys) starts so.
DEV_VALUE_PREFIX = "keybuzz-dev-"

ENVIRONMENTS = ("development", "test", "staging", "production")
# Where real sellers' data or real credentials may be: development values are refused.
PRODUCTION_LIKE = frozenset({"staging", "production"})
# HS256 needs a key of at least the hash size (RFC 7518 §3.2); the same bar for the API key.
MIN_SECRET_BYTES = 32

# The kinds of value settings take, the services' and the connectors' alike: each a type
# msgspec checks as the settings load, so that a variable off its kind stops the service,
# naming it (load_settings).
# Seconds above zero: a timeout, a deadline.
Seconds = Annotated[float, msgspec.Meta(gt=0)]
# A whole number from one: an interval in seconds, a size in bytes, a count, calls a day.
AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
# How far back a shop's first poll reads, in days: one to 90.
FirstPollDays = Annotated[int, msgspec.Meta(ge=1, le=90)]


class SettingsError(SystemExit):
    """Raised at start-up when the environment cannot make valid settings."""

    def __init__(self, message: str) -> None:
        super().__init__(f"configuration error: {message}")
        self.message = message


class EnvSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Settings read from environment variables, shown without their secrets."""

    # Environment variable names that differ from the upper-cased field name.
    ENV_NAMES: ClassVar[dict[str, str]] = {}
    # Fields that must be set explicitly, to something else than their default,
    # when production-like.
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = frozenset()
    # Fields not read from a variable of their own (what load_settings adds).
    NOT_FROM_ENVIRONMENT: ClassVar[frozenset[str]] = frozenset()

    keybuzz_env: str = "development"

    @property
    def is_production(self) -> bool:
        """Production-like (staging counts): development values and dev mode are refused."""
        return self.keybuzz_env in PRODUCTION_LIKE

    def __repr__(self) -> str:
        # Settings end up in logs and tracebacks; secrets must not (docs/SECURITY.md).
        shown = ", ".join(
            f"{field}={_shown(field, getattr(self, field))!r}" for field in self.__struct_fields__
        )
        return f"{type(self).__name__}({shown})"

    __str__ = __repr__

    def __rich_repr__(self) -> Any:  # msgspec's own would list the raw values
        for field in self.__struct_fields__:
            yield field, _shown(field, getattr(self, field))


class PartSettings(EnvSettings, kw_only=True, frozen=True):
    """Settings a package owns (a connector's), read with a service's settings from the same
    environment and held by them (``CommonSettings.part_types``): each field from its
    variable, errors naming it, the checks of its own in ``__post_init__``; production-like,
    its ``DEV_ONLY_DEFAULTS`` and those of the service's it has are refused."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        """These settings alone, read from ``environ`` by their variables' names (a test's,
        a double's): SettingsError naming the variable of a bad value."""
        return _converted(cls, _raw(cls, environ))


class CommonSettings(EnvSettings, kw_only=True, frozen=True):
    """Settings every service reads."""

    # Every service has its database: its default is the dev stack's, password included.
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = frozenset(
        {"vault_token", "jwt_secret", "internal_api_key", "database_url"}
    )
    # Secrets chosen by us: at least MIN_SECRET_BYTES when production-like.
    STRONG_SECRETS: ClassVar[frozenset[str]] = frozenset({"jwt_secret", "internal_api_key"})

    keybuzz_dev_mode: bool = False
    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # One URL, or a cluster's URLs separated by commas (nats_servers).
    nats_url: str = "nats://127.0.0.1:4222"
    # JetStream replicas of every stream (streams.py): 3 on a three-node cluster,
    # 1 on a single server, which refuses more (docs/OPERATIONS.md).
    nats_stream_replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    # Who this service is on NATS (nats_access.py): a user and password, or a .creds file
    # (JWT + nkey, NATS accounts); user:password in NATS_URL works too. Required when
    # production-like, like TLS: a tls:// URL, or NATS_CA (a private CA) with nats://.
    nats_user: str | None = None
    nats_password: str | None = None
    nats_creds: str | None = None
    nats_ca: str | None = None
    database_url: str = (
        f"postgresql://postgres:{DEV_POSTGRES_PASSWORD}@127.0.0.1:5432/keybuzz_backend"
    )
    product_database_url: str = (
        f"postgresql://postgres:{DEV_POSTGRES_PASSWORD}@127.0.0.1:5432/keybuzz"
    )
    # Connections of the service's pool at most (each service has one pool).
    database_pool_size: Annotated[int, msgspec.Meta(ge=2)] = 10
    # An event held while a dependency is down is tried again after this, doubling up to
    # the cap, for as long as the outage lasts (messaging.py, EventSubscription).
    event_hold_backoff_seconds: Seconds = 1.0
    event_hold_backoff_max_seconds: Seconds = 30.0
    # A consumer's fetch waits this long for events when none is there (a long poll: it
    # returns as soon as one arrives).
    event_long_poll_seconds: Seconds = 5.0

    vault_addr: str = "http://127.0.0.1:8200"
    vault_token: str | None = DEV_VAULT_TOKEN
    vault_cacert: str | None = None
    vault_role_id: str | None = None
    vault_secret_id: str | None = None
    # Secrets read ``cached`` (a shop's credentials) kept this long, this many at most: off
    # unless a service turns it on (the poller: docs/POLLER.md, "A shop's key").
    vault_cache_seconds: float = 0.0
    vault_cache_size: int = 0

    jwt_secret: str = DEV_JWT_SECRET
    # JWT checks beyond signature and exp (docs/SECURITY.md, "Authentication").
    jwt_issuer: str | None = None
    jwt_max_lifetime_seconds: int = 24 * 3600
    internal_api_key: str = DEV_INTERNAL_API_KEY

    @classmethod
    def part_types(cls) -> tuple[type[PartSettings], ...]:
        """The settings of other packages read with these, from the same environment."""
        return ()

    def with_parts(self, parts: Mapping[type[PartSettings], PartSettings]) -> Self:
        """These settings holding ``parts`` (one of each ``part_types``), loaded with them."""
        return self

    @property
    def nats_servers(self) -> list[str]:
        """The servers of ``NATS_URL``: nats-py reads a string as one URL, so split the list."""
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]


def _shown(field: str, value: object) -> object:
    if value is None:
        return None
    if is_secret_name(field):
        return REDACTED
    if isinstance(value, str):  # URLs: user:[REDACTED]@host, ?password=[REDACTED]
        return redact_text(value)
    return value


S = TypeVar("S", bound=CommonSettings)
T = TypeVar("T", bound=EnvSettings)


def env_name(cls: type[EnvSettings], field: str) -> str:
    return cls.ENV_NAMES.get(field, field.upper())


def environment_variables(cls: type[CommonSettings]) -> set[str]:
    """Every variable ``cls`` reads, its parts' included."""
    return {env_name(t, f.name) for t in (cls, *cls.part_types()) for f in _env_fields(t)}


def load_settings(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
    """Build ``cls`` and its parts from the environment, or stop with a message naming the
    culprit."""
    env = os.environ if environ is None else environ
    raw = _raw(cls, env)
    _refuse_unknown_environment(cls, raw)
    parts = {t: _converted(t, _raw(t, env)) for t in cls.part_types()}
    settings = _converted(cls, raw)
    _refuse_unsafe_production(settings, env)
    for part in parts.values():
        _refuse_part_defaults(part, cls.DEV_ONLY_DEFAULTS, env)
    return settings.with_parts(parts)


def _refuse_part_defaults(
    part: PartSettings, dev_only: frozenset[str], env: Mapping[str, str]
) -> None:
    """Production-like, the part's ``DEV_ONLY_DEFAULTS``, and those of the service's
    (``dev_only``) it has, must be set to values of their own."""
    if not part.is_production:
        return
    cls = type(part)
    for field in sorted((cls.DEV_ONLY_DEFAULTS | dev_only) & set(cls.__struct_fields__)):
        if problem := _development_value(cls, field, getattr(part, field), env):
            raise SettingsError(
                f"{env_name(cls, field)} {problem} when KEYBUZZ_ENV={part.keybuzz_env}"
            )


def _env_fields(cls: type[EnvSettings]) -> list[msgspec.inspect.Field]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return [f for f in info.fields if f.name not in cls.NOT_FROM_ENVIRONMENT]


def _raw(cls: type[EnvSettings], env: Mapping[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    missing: list[str] = []
    for field in _env_fields(cls):
        name = env_name(cls, field.name)
        if name in env and env[name] != "":
            raw[field.name] = env[name]
        elif field.required:
            missing.append(name)
    if missing:
        raise SettingsError(f"missing required setting(s): {', '.join(missing)}")
    return raw


def _converted(cls: type[T], raw: Mapping[str, Any]) -> T:
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_name_env_in(str(exc), cls)) from None


def _refuse_unknown_environment(cls: type[CommonSettings], raw: Mapping[str, Any]) -> None:
    """Only the exact names: ``prd`` or ``"production "`` would otherwise mean development."""
    given = raw.get("keybuzz_env", "development")
    if given not in ENVIRONMENTS:
        name = env_name(cls, "keybuzz_env")
        raise SettingsError(f"{name}={given!r} is not one of {', '.join(ENVIRONMENTS)}")


def _name_env_in(message: str, cls: type[EnvSettings]) -> str:
    """msgspec says ``$.http_port``; operators set ``HTTP_PORT``."""
    for field in msgspec.structs.fields(cls):
        message = message.replace(f"`$.{field.name}`", env_name(cls, field.name))
    return message


def _refuse_unsafe_production(settings: CommonSettings, env: Mapping[str, str]) -> None:
    if not settings.is_production:
        return
    where = f"KEYBUZZ_ENV={settings.keybuzz_env}"
    if settings.keybuzz_dev_mode:
        raise SettingsError(f"KEYBUZZ_DEV_MODE=true is refused when {where}")
    cls = type(settings)
    # The others are its parts' (load_part).
    for field in sorted(cls.DEV_ONLY_DEFAULTS & set(cls.__struct_fields__)):
        if field == "vault_token" and _uses_approle(settings):
            continue
        problem = _development_value(cls, field, getattr(settings, field), env)
        if problem:
            raise SettingsError(f"{env_name(cls, field)} {problem} when {where}")
    for field in sorted(cls.STRONG_SECRETS):
        if problem := too_short(env_name(cls, field), getattr(settings, field)):
            raise SettingsError(f"{problem}, refused when {where}")
    if not settings.vault_addr.startswith("https://"):
        name = env_name(cls, "vault_addr")
        raise SettingsError(f"{name} must be an https:// address when {where}")
    _refuse_anonymous_or_plain_nats(settings, where)


def too_short(name: str, secret: str | None) -> str | None:
    """Why the secret ``name`` is too short (never showing it), or None: the one length rule
    for the keys we choose ourselves."""
    if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
        return f"{name} is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def _refuse_anonymous_or_plain_nats(settings: CommonSettings, where: str) -> None:
    cls = type(settings)
    urls = settings.nats_servers
    in_urls = all("@" in url.split("://", 1)[-1] for url in urls)
    if not (in_urls or settings.nats_creds or (settings.nats_user and settings.nats_password)):
        raise SettingsError(
            f"NATS credentials are required when {where}: {env_name(cls, 'nats_user')} and "
            f"{env_name(cls, 'nats_password')}, or {env_name(cls, 'nats_creds')}"
        )
    if not settings.nats_ca and not all(url.startswith("tls://") for url in urls):
        raise SettingsError(
            f"{env_name(cls, 'nats_url')} must use TLS when {where}: tls:// addresses, "
            f"or {env_name(cls, 'nats_ca')} with nats:// ones"
        )


def _uses_approle(settings: CommonSettings) -> bool:
    return bool(settings.vault_role_id and settings.vault_secret_id)


def _development_value(
    cls: type[EnvSettings], field: str, value: object, env: Mapping[str, str]
) -> str | None:
    """Why ``value`` is a development value, or None (the message never shows a secret)."""
    if not env.get(env_name(cls, field)):
        return "must be set"
    if any(f.name == field and f.default == value for f in msgspec.structs.fields(cls)):
        return "is the development default, refused"
    if isinstance(value, str) and value.startswith(DEV_VALUE_PREFIX):
        return f"is a development value ({DEV_VALUE_PREFIX}…), refused"
    if isinstance(value, str) and _url_password(value).startswith(DEV_VALUE_PREFIX):
        return f"holds a development password ({DEV_VALUE_PREFIX}…), refused"
    return None


def _url_password(value: str) -> str:
    """The password of a URL (``postgresql://user:password@host/db``), "" for none."""
    try:
        return unquote(urlsplit(value).password or "")
    except ValueError:  # not a URL (a port out of range…): no password to judge
        return ""
