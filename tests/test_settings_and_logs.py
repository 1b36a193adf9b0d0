"""Settings from the environment and secret-free JSON logs."""

import json
import logging

import pytest
from keybuzz_shared.logs import JsonFormatter, redact_text
from keybuzz_shared.settings import CommonSettings, SettingsError, load_settings
from keybuzz_tenant_sync.settings import TenantSyncSettings


class Needs(CommonSettings, kw_only=True, frozen=True):
    poll_interval_seconds: int


def test_missing_required_setting_names_it():
    with pytest.raises(SystemExit, match="POLL_INTERVAL_SECONDS"):
        load_settings(Needs, {})


def test_wrong_type_names_the_variable():
    with pytest.raises(SettingsError, match="POLL_INTERVAL_SECONDS"):
        load_settings(Needs, {"POLL_INTERVAL_SECONDS": "often"})


def test_service_port_variable_and_defaults():
    settings = load_settings(
        TenantSyncSettings, {"TENANT_SYNC_PORT": "9104", "NATS_URL": "nats://x:1"}
    )
    assert settings.http_port == 9104 and settings.nats_url == "nats://x:1"
    assert load_settings(TenantSyncSettings, {}).http_port == 8004


@pytest.mark.parametrize("missing", ["JWT_SECRET", "INTERNAL_API_KEY", "VAULT_TOKEN"])
def test_production_refuses_development_secrets(missing):
    env = {
        "KEYBUZZ_ENV": "production",
        "JWT_SECRET": "s",
        "INTERNAL_API_KEY": "k",
        "VAULT_TOKEN": "t",
    }
    del env[missing]
    with pytest.raises(SettingsError, match=missing):
        load_settings(CommonSettings, env)


def test_production_refuses_dev_mode():
    env = {
        "KEYBUZZ_ENV": "production",
        "JWT_SECRET": "s",
        "INTERNAL_API_KEY": "k",
        "VAULT_TOKEN": "t",
        "KEYBUZZ_DEV_MODE": "true",
    }
    with pytest.raises(SettingsError, match="KEYBUZZ_DEV_MODE"):
        load_settings(CommonSettings, env)


def test_production_accepts_approle_instead_of_token():
    env = {
        "KEYBUZZ_ENV": "production",
        "JWT_SECRET": "s",
        "INTERNAL_API_KEY": "k",
        "VAULT_ROLE_ID": "r",
        "VAULT_SECRET_ID": "x",
    }
    assert load_settings(CommonSettings, env).vault_role_id == "r"


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
