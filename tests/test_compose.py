"""compose.yaml stays consistent with the code: names, ports, variables, images.

No Docker engine runs on the project's machines, so the containers are not
started here; this checks everything that can drift without running them.
"""

import base64
import hashlib
import re
from pathlib import Path

import pytest
import yaml
from keybuzz_devstack import dovecot as dovecot_dev
from keybuzz_devstack.stack import SERVICES
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.settings import (
    DEV_INTERNAL_API_KEY,
    DEV_JWT_SECRET,
    env_name,
    environment_variables,
    load_settings,
)
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC

from tests.dockerfile import installed_paths, stages

ROOT = Path(__file__).resolve().parents[1]
MX_PORT = PollerSettings().mx_port
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
DEFINITIONS = {d.name: d for d in (OAUTH, POLLER, ORDERS, TENANT_SYNC)}
DESIGN_VARIABLES = {
    "NATS_URL",
    "DATABASE_URL",
    "PRODUCT_DATABASE_URL",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "LWA_ENDPOINT",
    "SPAPI_ENDPOINT",
    "SELLER_CENTRAL_URL",
    "JWT_SECRET",
    "INTERNAL_API_KEY",
    "KEYBUZZ_DEV_MODE",
    "KEYBUZZ_ENV",
    "INBOUND_DOMAIN",
    "POLL_INTERVAL_SECONDS",
    "BACKFILL_DAYS",
}


def settings_variables(definition) -> set[str]:
    return environment_variables(definition.settings_type)  # its connectors' included


ALL_SETTINGS_VARIABLES = set().union(*(settings_variables(d) for d in DEFINITIONS.values()))


def test_infrastructure_uses_official_images():
    services = COMPOSE["services"]
    assert services["nats"]["image"].startswith("nats:")
    assert "--jetstream" in services["nats"]["command"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["openbao"]["image"].startswith("openbao/openbao:")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_is_in_compose_with_its_port_and_module(name):
    service = COMPOSE["services"][name]
    port = SERVICES[name]
    definition = DEFINITIONS[name]
    # HTTP only, except the poller's MX (SMTP), which must be reachable by mail senders.
    extra = [f"127.0.0.1:{MX_PORT}:{MX_PORT}"] if name == "poller" else []
    assert service["ports"] == [f"127.0.0.1:{port}:{port}", *extra]
    assert service["command"] == ["python", "-m", "keybuzz_" + name.replace("-", "_")]
    port_variable = env_name(definition.settings_type, "http_port")
    assert service["environment"][port_variable] == str(port)
    assert service["environment"]["VAULT_TOKEN"] == f"keybuzz-dev-{name}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_environment_is_known_to_the_code(name):
    variables = set(COMPOSE["services"][name]["environment"])
    assert (
        DESIGN_VARIABLES - {"VAULT_TOKEN"} <= variables
    )  # every configuration variable (docs/CONTRACTS.md) reaches every service
    unknown = variables - ALL_SETTINGS_VARIABLES
    assert not unknown, f"compose sets variables no service reads: {unknown}"


def _dovecot_mount(target: str) -> Path:
    for volume in COMPOSE["services"]["dovecot"]["volumes"]:
        source, _, rest = volume.partition(":")
        if rest.split(":")[0] == target:
            return ROOT / source
    raise AssertionError(f"nothing mounted at {target}")


def test_dovecot_is_the_official_image_and_the_poller_reads_and_delivers_there():
    dovecot = COMPOSE["services"]["dovecot"]
    assert dovecot["image"].startswith("dovecot/dovecot:2.3")  # the 2.3 config syntax below
    poller = COMPOSE["services"]["poller"]
    environment = compose_environment("poller", OPERATOR)
    settings = load_settings(PollerSettings, environment)
    assert (settings.imap_host, settings.lmtp_host) == ("dovecot", "dovecot")
    assert "dovecot" in poller["depends_on"]
    # The MX listens on the container's interfaces, on the port compose publishes.
    assert settings.mx_host == "0.0.0.0" and settings.mx_port == MX_PORT
    config = _dovecot_mount("/etc/dovecot/dovecot.conf").read_text()
    listeners = dict(re.findall(r"inet_listener (imap|lmtp) \{\s*port = (\d+)", config))
    assert listeners == {"imap": str(settings.imap_port), "lmtp": str(settings.lmtp_port)}
    assert "lmtp_save_to_detail_mailbox = yes" in config  # one folder per tenant
    assert dovecot_dev.SCALE_SETTINGS in config  # deliveries stay fast at thousands of folders
    assert "protocols = imap lmtp" in config and "/etc/dovecot/users" in config


def test_dovecot_account_is_the_pollers_with_the_development_password():
    user, hashed, *_ = _dovecot_mount("/etc/dovecot/users").read_text().split(":")
    settings = PollerSettings()
    assert user == settings.imap_user
    # {SSHA512}: sha512(password + salt) followed by the salt, base64.
    raw = base64.b64decode(hashed.removeprefix("{SSHA512}"))
    digest, salt = raw[:64], raw[64:]
    assert hashlib.sha512(settings.imap_password.encode() + salt).digest() == digest


def test_dockerfile_installs_every_package():
    development = installed_paths("development")
    for package in ["shared", "devstack", "sandbox", *(f"services/{n}" for n in SERVICES)]:
        assert (ROOT / package).resolve() in development
    # The sandbox's doubles, each in its connector's folder: compose's sandbox serves them.
    doubles = {p.parent.resolve() for p in ROOT.glob("connectors/*/double/pyproject.toml")}
    assert doubles and doubles <= development


def test_compose_runs_the_services_image_and_the_development_parts_from_theirs():
    """The services run the released image's stage; the sandbox and the bootstrap job (the
    dev stack's) the development stage, the only one that installs them."""
    services = COMPOSE["services"]
    for name in SERVICES:
        assert services[name]["build"] == {"context": ".", "target": "services"}, name
    for name in ("sandbox", "bootstrap"):
        assert services[name]["build"] == {"context": ".", "target": "development"}, name
    assert set(stages()) >= {"services", "development"}


# Compose's interpolation: ${NAME:-default} and ${NAME:?error} (what compose.yaml uses).
_VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def interpolate(value: str, environ: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, kind, arg = match.groups()
        if environ.get(name):
            return environ[name]
        if kind == "?":
            raise LookupError(f"{name}: {arg}")
        return arg if kind == "-" else ""

    return _VARIABLE.sub(one, value)


def compose_environment(name: str, environ: dict[str, str]) -> dict[str, str]:
    raw = COMPOSE["services"][name]["environment"]
    return {key: interpolate(str(value), environ) for key, value in raw.items()}


OPERATOR = {"JWT_SECRET": "j" * 32, "INTERNAL_API_KEY": "k" * 32}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_compose_requires_the_shared_secrets_instead_of_development_values(name):
    for variable in OPERATOR:
        with pytest.raises(LookupError, match=f"{variable}: set {variable}"):
            compose_environment(name, {k: v for k, v in OPERATOR.items() if k != variable})
    for value in COMPOSE["services"][name]["environment"].values():
        assert DEV_JWT_SECRET not in str(value) and DEV_INTERNAL_API_KEY not in str(value)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_compose_runs_each_service_as_development_with_settings_it_accepts(name):
    environment = compose_environment(name, OPERATOR)
    # OpenBao in dev mode over http and dev tokens: development, whatever the host says.
    assert environment["KEYBUZZ_ENV"] == "development"
    settings = load_settings(DEFINITIONS[name].settings_type, environment)
    assert settings.jwt_secret == OPERATOR["JWT_SECRET"] and not settings.is_production
