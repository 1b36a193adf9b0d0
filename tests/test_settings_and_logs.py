"""Settings from the environment and secret-free JSON logs."""

import json
import logging

import msgspec
import pytest
from keybuzz_devstack.testing import PRODUCTION_SETTINGS
from keybuzz_orders.settings import OrdersSettings
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.logs import JsonFormatter, redact_text
from keybuzz_shared.settings import (
    DEV_INTERNAL_API_KEY,
    DEV_JWT_SECRET,
    DEV_VAULT_TOKEN,
    CommonSettings,
    SettingsError,
    load_settings,
)
from keybuzz_tenant_sync.settings import TenantSyncSettings


class Needs(CommonSettings, kw_only=True, frozen=True):
    poll_interval_seconds: int


def test_missing_required_setting_names_it():
    with pytest.raises(SystemExit, match="POLL_INTERVAL_SECONDS"):
        load_settings(Needs, {})


def test_wrong_type_names_the_variable():
    with pytest.raises(SettingsError, match="POLL_INTERVAL_SECONDS"):
        load_settings(Needs, {"POLL_INTERVAL_SECONDS": "often"})


def test_a_pool_of_fewer_than_two_connections_is_refused():
    with pytest.raises(SettingsError, match="DATABASE_POOL_SIZE"):
        load_settings(TenantSyncSettings, {"DATABASE_POOL_SIZE": "1"})
    assert load_settings(TenantSyncSettings, {}).database_pool_size == 10


@pytest.mark.parametrize(
    "service, name, off_its_kind",
    [
        # Seconds: above zero.
        (PollerSettings, "SHOP_POLL_DEADLINE_SECONDS", "0"),
        (PollerSettings, "SHOP_POLL_SLOW_SECONDS", "-1"),
        (PollerSettings, "PARSE_MAX_SECONDS", "0"),
        (PollerSettings, "MX_IDLE_TIMEOUT_SECONDS", "0"),
        (PollerSettings, "MX_SESSION_TIMEOUT_SECONDS", "0"),
        (OrdersSettings, "BACKFILL_REPORT_DEADLINE_SECONDS", "0"),
        # AtLeastOne: a whole number from one.
        (PollerSettings, "SHOP_POLL_BACKOFF_CONCURRENCY", "0"),
        (PollerSettings, "PARSE_MAX_PARTS", "0"),
        (PollerSettings, "PARSE_MAX_DEPTH", "0"),
        (PollerSettings, "REPLY_SEND_BATCH_BYTES", "0"),
        (PollerSettings, "MX_MAX_SESSIONS", "0"),
        (PollerSettings, "MX_MAX_SESSIONS_PER_CLIENT", "0"),
        (PollerSettings, "MX_MAX_RECIPIENTS", "0"),
        (OrdersSettings, "BACKFILL_REPORT_THRESHOLD", "0"),
        (OrdersSettings, "BACKFILL_REPORT_THRESHOLD", "1.5"),
        # BackfillDays: 1 to 730, like a backfill asked over HTTP.
        (OrdersSettings, "BACKFILL_DAYS", "0"),
        (OrdersSettings, "BACKFILL_DAYS", "731"),
    ],
)
def test_a_service_variable_off_its_kind_stops_the_service_naming_it(
    service: type[CommonSettings], name: str, off_its_kind: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(service, {name: off_its_kind})
    assert name in refused.value.message


def test_service_port_variable_and_defaults():
    settings = load_settings(
        TenantSyncSettings, {"TENANT_SYNC_PORT": "9104", "NATS_URL": "nats://x:1"}
    )
    assert settings.http_port == 9104 and settings.nats_url == "nats://x:1"
    assert load_settings(TenantSyncSettings, {}).http_port == 8004


PRODUCTION = PRODUCTION_SETTINGS


def test_production_settings_are_accepted():
    settings = load_settings(CommonSettings, PRODUCTION)
    assert settings.is_production and settings.vault_addr == "https://vault.internal:8200"


@pytest.mark.parametrize(
    "missing", ["JWT_SECRET", "INTERNAL_API_KEY", "VAULT_TOKEN", "DATABASE_URL"]
)
@pytest.mark.parametrize("env_name", ["production", "staging"])
def test_production_like_requires_the_secrets(missing, env_name):
    env = {**PRODUCTION, "KEYBUZZ_ENV": env_name}
    del env[missing]
    with pytest.raises(SettingsError, match=f"{missing} must be set when KEYBUZZ_ENV={env_name}"):
        load_settings(CommonSettings, env)


@pytest.mark.parametrize(
    "name, value",
    [
        ("JWT_SECRET", DEV_JWT_SECRET),
        ("INTERNAL_API_KEY", DEV_INTERNAL_API_KEY + "-padded-to-be-long-enough"),
        ("INTERNAL_API_KEY", DEV_INTERNAL_API_KEY),
        ("VAULT_TOKEN", DEV_VAULT_TOKEN),
        ("VAULT_TOKEN", "keybuzz-dev-tenant-sync"),
    ],
)
def test_production_refuses_development_values_even_when_set(name, value):
    with pytest.raises(SettingsError, match=f"{name} is (the development default|a development)"):
        load_settings(CommonSettings, {**PRODUCTION, name: value})


@pytest.mark.parametrize("name", ["DATABASE_URL", "PRODUCT_DATABASE_URL"])
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:keybuzz-dev-postgres@db.internal:5432/keybuzz_backend",
        "postgresql://keybuzz:keybuzz-dev-postgres-copied@10.0.0.7/keybuzz",
        "postgres://postgres:keybuzz%2Ddev%2Dpostgres@db.internal/keybuzz",  # percent-encoded
    ],
)
def test_production_refuses_a_database_url_with_the_development_password(name, url):
    """The dev stack's PostgreSQL password in any database URL (another host, another
    user, encoded) is refused, naming the variable and never showing the URL."""
    with pytest.raises(SettingsError, match=f"{name} holds a development password") as refused:
        load_settings(
            TenantSyncSettings, {**PRODUCTION, "PRODUCT_DATABASE_URL": PRODUCT, name: url}
        )
    assert "keybuzz-dev-postgres" not in str(refused.value) and "db.internal" not in str(
        refused.value
    )


PRODUCT = "postgresql://tenant_sync:a-real-product-password@product.internal:5432/keybuzz"


def test_the_product_database_must_be_set_where_it_is_read():
    """tenant-sync alone reads the product app's database: there its dev default is refused;
    the other services never connect to it and need not name it."""
    with pytest.raises(SettingsError, match="PRODUCT_DATABASE_URL must be set"):
        load_settings(TenantSyncSettings, PRODUCTION)
    settings = load_settings(TenantSyncSettings, {**PRODUCTION, "PRODUCT_DATABASE_URL": PRODUCT})
    assert settings.product_database_url == PRODUCT
    assert load_settings(CommonSettings, PRODUCTION).database_url == PRODUCTION["DATABASE_URL"]


@pytest.mark.parametrize("name", ["JWT_SECRET", "INTERNAL_API_KEY"])
def test_production_refuses_short_secrets(name):
    with pytest.raises(SettingsError, match=f"{name} is shorter than 32 bytes") as refused:
        load_settings(CommonSettings, {**PRODUCTION, name: "x" * 31})
    assert "x" * 31 not in refused.value.message  # the refusal does not echo the secret
    assert load_settings(CommonSettings, {**PRODUCTION, name: "é" * 16}).is_production  # bytes


def test_production_refuses_vault_over_plain_http():
    with pytest.raises(SettingsError, match="VAULT_ADDR must be an https:// address"):
        load_settings(CommonSettings, {**PRODUCTION, "VAULT_ADDR": "http://vault.internal:8200"})
    with pytest.raises(SettingsError, match="VAULT_ADDR must be an https:// address"):
        load_settings(CommonSettings, {k: v for k, v in PRODUCTION.items() if k != "VAULT_ADDR"})


@pytest.mark.parametrize("given", ["prd", "live", "production ", "Production", "prod", " "])
def test_unknown_environment_names_are_refused_at_start_up(given):
    with pytest.raises(SettingsError, match="KEYBUZZ_ENV=.* is not one of"):
        load_settings(CommonSettings, {**PRODUCTION, "KEYBUZZ_ENV": given})


@pytest.mark.parametrize("given", ["development", "test"])
def test_development_and_test_keep_the_development_defaults(given):
    settings = load_settings(CommonSettings, {"KEYBUZZ_ENV": given})
    assert not settings.is_production and settings.jwt_secret == DEV_JWT_SECRET


@pytest.mark.parametrize("env_name", ["production", "staging"])
def test_production_refuses_dev_mode(env_name):
    env = {**PRODUCTION, "KEYBUZZ_ENV": env_name, "KEYBUZZ_DEV_MODE": "true"}
    with pytest.raises(SettingsError, match="KEYBUZZ_DEV_MODE"):
        load_settings(CommonSettings, env)


def test_production_accepts_approle_instead_of_token():
    env = {k: v for k, v in PRODUCTION.items() if k != "VAULT_TOKEN"}
    env |= {"VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "x"}
    assert load_settings(CommonSettings, env).vault_role_id == "r"


SECRETS = {
    "JWT_SECRET": "jwt-secret-value-0123456789abcdef",
    "INTERNAL_API_KEY": "internal-key-value-0123456789abcd",
    "VAULT_TOKEN": "hvs.vault-token-value",
    "VAULT_SECRET_ID": "vault-secret-id-value",
    "DATABASE_URL": "postgresql://kb:db-password-value@db:5432/keybuzz_backend",
    "PRODUCT_DATABASE_URL": "postgresql://db/keybuzz?user=kb&password=product-password-value",
    "NATS_URL": "nats://kb:nats-password-value@nats:4222",
}


@pytest.mark.parametrize("show", [repr, str, "{}".format, lambda s: repr([s])])
def test_settings_never_show_a_secret(show):
    settings = load_settings(TenantSyncSettings, SECRETS)
    shown = show(settings)
    hidden = [v for k, v in SECRETS.items() if not k.endswith("_URL")]
    hidden += ["db-password-value", "product-password-value", "nats-password-value"]
    for secret in hidden:
        assert secret not in shown, secret
    assert "[REDACTED]" in shown
    # What is not secret stays readable: an operator still sees where things are.
    assert "db:5432/keybuzz_backend" in shown and "inbound.keybuzz.test" in shown
    assert settings.jwt_secret == SECRETS["JWT_SECRET"]  # the value itself is untouched


@pytest.mark.parametrize(
    "text",
    [
        "refresh failed for Atzr|IwEBIA-very-secret-refresh",
        "token Atza|IwEBIExampleAccessToken returned",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
        'body {"client_secret": "keybuzz-sandbox-secret"}',
        "grant_type=refresh_token&refresh_token=Atzr|abc&client_secret=shh",
        "rdt Atz.sprdt|restricted-token-value",
    ],
)
def test_secrets_are_masked_in_text(text):
    masked = redact_text(text)
    for secret in (
        "very-secret",
        "ExampleAccessToken",
        "payload.sig",
        "keybuzz-sandbox-secret",
        "Atzr|abc",
        "shh",
        "restricted-token-value",
    ):
        assert secret not in masked
    assert "[REDACTED]" in masked


def test_json_formatter_masks_extra_fields_and_exceptions():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "exchange for %s", ("seller-1",), None
    )
    record.refresh_token = "Atzr|in-extra"
    record.headers = {"Authorization": "Bearer abc.def.ghi", "Accept": "json"}
    try:
        raise ValueError("boom Atza|in-exception")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter("svc").format(record)
    entry = json.loads(line)
    assert entry["message"] == "exchange for seller-1" and entry["service"] == "svc"
    assert entry["refresh_token"] == "[REDACTED]"
    assert entry["headers"] == {"Authorization": "[REDACTED]", "Accept": "json"}
    assert "in-exception" not in line and "in-extra" not in line and "abc.def" not in line


def _logged(**fields: object) -> tuple[str, dict[str, object]]:
    """One record with ``fields`` as extras, through the formatter every service uses."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token refreshed", (), None)
    for name, value in fields.items():
        setattr(record, name, value)
    line = JsonFormatter("svc").format(record)
    return line, json.loads(line)


@pytest.mark.parametrize(
    "field",
    [
        "refresh_token",
        "refreshToken",
        "lwa_refresh_token",
        "client_secret",
        "access_token",
        "password",
        "authorization",
    ],
)
def test_secret_field_is_masked_by_its_name_whatever_its_value(field):
    # Issue 10 §9b: a value matching no secret pattern (no "Atz" prefix) must still be masked.
    line, entry = _logged(**{field: "plain-looking-value-42"})
    assert entry[field] == "[REDACTED]"
    assert "plain-looking-value-42" not in line


def test_secret_fields_inside_structs_and_nested_values_are_masked():
    class TokenResponse(msgspec.Struct):
        access_token: str
        refresh_token: str
        expires_in: int

    line, entry = _logged(
        response=TokenResponse("plain-access", "plain-refresh", 3600),
        attempts=[{"clientSecret": "plain-secret", "status": 401}],
        next_token="page-2",  # SP-API pagination, not a credential
    )
    assert entry["response"] == {
        "access_token": "[REDACTED]",
        "refresh_token": "[REDACTED]",
        "expires_in": 3600,
    }
    assert entry["attempts"] == [{"clientSecret": "[REDACTED]", "status": 401}]
    assert entry["next_token"] == "page-2"
    assert "plain-" not in line


def test_log_lines_carry_the_active_trace_id():
    from keybuzz_shared import tracing

    tracing.configure("test")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with tracing.consume_context(
        {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}, "tenant.created process"
    ):
        _, inside = _logged()
    _, outside = _logged()
    assert inside["trace_id"] == trace_id and len(str(inside["span_id"])) == 16
    assert "trace_id" not in outside and "span_id" not in outside
