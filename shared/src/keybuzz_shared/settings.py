"""Settings from environment variables (DESIGN.md §7).

Each service declares a msgspec ``Struct`` subclass of :class:`CommonSettings`;
every field is read from the upper-cased environment variable of the same name
(or the name given in ``ENV_NAMES``). A field without a default is required.
Development defaults for secrets are refused when ``KEYBUZZ_ENV=production``,
so a forgotten variable stops the service instead of running with a known
secret (seed 003: an empty Vault token went unnoticed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import msgspec

DEV_VAULT_TOKEN = "keybuzz-dev-root"
DEV_JWT_SECRET = "keybuzz-dev-secret-change-me-in-production"
DEV_INTERNAL_API_KEY = "keybuzz-dev-internal"


class SettingsError(SystemExit):
    """Raised at start-up when the environment cannot make valid settings."""

    def __init__(self, message: str) -> None:
        super().__init__(f"configuration error: {message}")
        self.message = message


class CommonSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Settings every service reads."""

    # Environment variable names that differ from the upper-cased field name.
    ENV_NAMES: ClassVar[dict[str, str]] = {}
    # Fields whose development default must not be used in production.
    DEV_ONLY_DEFAULTS: ClassVar[frozenset[str]] = frozenset(
        {"vault_token", "jwt_secret", "internal_api_key"}
    )

    keybuzz_env: str = "development"
    keybuzz_dev_mode: bool = False
    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/keybuzz_backend"
    product_database_url: str = "postgresql://postgres@127.0.0.1:5432/keybuzz"

    vault_addr: str = "http://127.0.0.1:8200"
    vault_token: str | None = DEV_VAULT_TOKEN
    vault_cacert: str | None = None
    vault_role_id: str | None = None
    vault_secret_id: str | None = None

    jwt_secret: str = DEV_JWT_SECRET
    internal_api_key: str = DEV_INTERNAL_API_KEY

    @property
    def is_production(self) -> bool:
        return self.keybuzz_env.lower() in {"production", "prod"}


S = TypeVar("S", bound=CommonSettings)


def env_name(cls: type[CommonSettings], field: str) -> str:
    return cls.ENV_NAMES.get(field, field.upper())


def load_settings(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
    """Build ``cls`` from the environment, or stop with a message naming the culprit."""
    env = os.environ if environ is None else environ
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    raw: dict[str, Any] = {}
    missing: list[str] = []
    for field in info.fields:
        name = env_name(cls, field.name)
        if name in env and env[name] != "":
            raw[field.name] = env[name]
        elif field.required:
            missing.append(name)
    if missing:
        raise SettingsError(f"missing required setting(s): {', '.join(missing)}")
    try:
        settings = msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_name_env_in(str(exc), cls)) from None
    _refuse_unsafe_production(settings, env)
    return settings


def _name_env_in(message: str, cls: type[CommonSettings]) -> str:
    """msgspec says ``$.http_port``; operators set ``HTTP_PORT``."""
    for field in msgspec.structs.fields(cls):
        message = message.replace(f"`$.{field.name}`", env_name(cls, field.name))
    return message


def _refuse_unsafe_production(settings: CommonSettings, env: Mapping[str, str]) -> None:
    if not settings.is_production:
        return
    if settings.keybuzz_dev_mode:
        raise SettingsError("KEYBUZZ_DEV_MODE=true is refused when KEYBUZZ_ENV=production")
    uses_approle = bool(settings.vault_role_id and settings.vault_secret_id)
    for field in sorted(type(settings).DEV_ONLY_DEFAULTS):
        if field == "vault_token" and uses_approle:
            continue
        name = env_name(type(settings), field)
        if not env.get(name):
            raise SettingsError(f"{name} must be set when KEYBUZZ_ENV=production")
