"""Sandbox settings, read once from the environment into an immutable struct."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec
import msgspec.inspect

from keybuzz_sandbox.double_kit import ports

T = TypeVar("T")

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


# The doubles keep an idle connection for about a minute, as marketplaces' load balancers
# do (AWS's: 60 s); uvicorn's 5 s default equals httpx's keep-alive expiry, so a client
# reusing a connection at that moment met a closed socket (RemoteProtocolError, a retry).
IDLE_TIMEOUT_SECONDS = 60

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
    state_dir: str | None = None
    # The reply front (reply_front.py): the development stack's outbound relay, forwarding
    # each reply to the relay double of its recipient's domain; port 0: any free port.
    reply_front_host: str = "127.0.0.1"
    reply_front_port: int = 2527
    # Who may send through the front (SMTP AUTH); None: the front does not serve, as an
    # outbound relay anyone on the machine could use is not served.
    reply_front_login: SmtpLogin | None = None
    # Each double's own settings (its package's ``env.py``), one value per double that has
    # some; ``of`` gives a double its own, its defaults when none was given.
    doubles: tuple[Any, ...] = ()
    # The doubles whose routes the app serves, by name; None: every one. A sandbox of one
    # double starts in a fraction of the time of all (tests start hundreds).
    serving: tuple[str, ...] | None = None

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
        double_settings(double.settings, double.variables_prefix, env)
        for double in doubles().values()
        if double.settings is not None
    )


def double_settings(kind: type[T], prefix: str, env: Mapping[str, str]) -> T:
    """A double's settings: each field from ``<prefix><NAME>`` when set (its name, or the
    one its ``msgspec.field(name=...)`` gives, in capitals), its default otherwise (a
    ``StackPort``'s shifted by KEYBUZZ_PORT_OFFSET); a
    sequence from a comma-separated list, a field that is a Struct from its own fields'
    ``<prefix><NAME>_<FIELD>``. ConfigError naming the variable of a value its type
    refuses."""
    variables: dict[str, str] = {}  # where a value is in the Struct -> its variable
    given = _given(msgspec.inspect.type_info(kind), prefix, env, "$", variables)
    try:
        return msgspec.convert(given, kind, strict=False)
    except msgspec.ValidationError as exc:
        where = str(exc).rpartition(" - at `")[2].rstrip("`")
        name = next(
            (v for at, v in variables.items() if where == at or where.startswith(f"{at}[")),
            f"{prefix}*",
        )
        raise ConfigError(f"{name}={env.get(name, '').strip()!r} is not valid: {exc}") from None


def settings_variables(kind: type[Any], prefix: str) -> list[str]:
    """The variables ``double_settings`` reads for ``kind``."""
    variables: dict[str, str] = {}
    _given(msgspec.inspect.type_info(kind), prefix, {}, "$", variables)
    return list(variables.values())


SEQUENCES = (
    msgspec.inspect.VarTupleType,
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
)
# Booleans as the sandbox's own settings take them, beside msgspec's true/false/1/0.
BOOLEAN_WORDS = {"yes": "true", "on": "true", "no": "false", "off": "false"}


def _given(
    struct: Any, prefix: str, env: Mapping[str, str], path: str, variables: dict[str, str]
) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for field in struct.fields:
        name, at = f"{prefix}{field.encode_name.upper()}", f"{path}.{field.encode_name}"
        if isinstance(field.type, msgspec.inspect.StructType):
            inner = _given(field.type, f"{name}_", env, at, variables)
            if inner:
                given[field.encode_name] = inner
            continue
        variables[at] = name
        raw = env.get(name, "").strip()
        if not raw:
            if ports.follows_offset(field):  # a port of the stack: moved with it
                given[field.encode_name] = field.default + _offset(env)
            continue
        if isinstance(field.type, SEQUENCES):
            given[field.encode_name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif isinstance(field.type, msgspec.inspect.BoolType):
            given[field.encode_name] = BOOLEAN_WORDS.get(raw.lower(), raw)
        else:
            given[field.encode_name] = raw
    return given


def _offset(env: Mapping[str, str]) -> int:
    try:
        return ports.port_offset(env)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535")
    return value


def _front_login(env: Mapping[str, str]) -> SmtpLogin | None:
    password = env.get("SANDBOX_REPLY_FRONT_PASSWORD", "").strip()
    if not password:
        return None
    return SmtpLogin(_read(env, "SANDBOX_REPLY_FRONT_USERNAME", str, FRONT_USERNAME), password)


def config_from_env(env: Mapping[str, str]) -> SandboxConfig:
    host = _read(env, "SANDBOX_HOST", str, "127.0.0.1")
    port = _read(env, "SANDBOX_PORT", int, 8900)
    return SandboxConfig(
        host=host,
        port=port,
        public_url=_read(
            env, "SANDBOX_PUBLIC_URL", lambda r: r.rstrip("/"), f"http://{host}:{port}"
        ),
        seed=_read(env, "SANDBOX_SEED", str, "keybuzz"),
        time_scale=_read(env, "SANDBOX_TIME_SCALE", _positive_float, 1.0),
        state_dir=_read(env, "SANDBOX_STATE_DIR", str, None),
        reply_front_host=_read(env, "SANDBOX_REPLY_FRONT_HOST", str, "127.0.0.1"),
        reply_front_port=_read(env, "SANDBOX_REPLY_FRONT_PORT", _port, 2527),
        reply_front_login=_front_login(env),
        doubles=_doubles_settings(env),
    )
