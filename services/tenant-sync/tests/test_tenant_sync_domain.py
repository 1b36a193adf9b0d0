"""Domain rules without servers: plan/status mapping, tokens, address format, countries,
and when a refused token makes a connection REAUTH_REQUIRED."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_tenant_sync.domain import (
    TOKEN_LENGTH,
    MarketplaceConnection,
    UnknownValue,
    address_countries,
    map_plan,
    map_status,
    new_addresses,
    new_token,
)

# Amazon's relay mails buyers' messages to the inbound addresses (seed 004's format).
RELAY = connector_for(AMAZON).inbound_addresses
assert RELAY is not None


@pytest.mark.parametrize(
    ("product", "marketplace"),
    [("free", "FREE"), ("starter", "STARTER"), ("pro", "PRO"), ("Enterprise", "ENTERPRISE")],
)
def test_plans_map_to_uppercase_enums(product, marketplace):
    assert map_plan(product) == marketplace


@pytest.mark.parametrize(
    ("product", "marketplace"),
    [
        ("active", "ACTIVE"),
        ("trial", "TRIAL"),
        ("suspended", "SUSPENDED"),
        ("archived", "ARCHIVED"),
    ],
)
def test_statuses_map_to_uppercase_enums(product, marketplace):
    assert map_status(product) == marketplace


def test_unknown_values_are_refused():
    with pytest.raises(UnknownValue, match="unknown plan 'gold'"):
        map_plan("gold")
    with pytest.raises(UnknownValue, match="unknown status 'deleted'"):
        map_status("deleted")
    with pytest.raises(UnknownValue, match="invalid country 'FRA'"):
        address_countries(["FRA"])


def test_tokens_are_long_random_and_not_derived_from_the_tenant():
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    assert all(len(t) == TOKEN_LENGTH == 16 and t.isalnum() and t.islower() for t in tokens)
    first, second = (
        new_addresses(RELAY, "kbz-001", ["FR"], "d.test"),
        new_addresses(RELAY, "kbz-001", ["FR"], "d.test"),
    )
    assert first[0].token != second[0].token


def test_address_format_is_that_of_seed_004():
    assert RELAY.address("ecomlg-001", "FR", "cp2hat", "inbound.keybuzz.io") == (
        "amazon.ecomlg-001.fr.cp2hat@inbound.keybuzz.io"
    )
    [address] = new_addresses(RELAY, "Tenant_A", ["DE"], "Inbound.Test")
    assert address.email == f"amazon.tenant_a.de.{address.token}@inbound.test"


def test_countries_are_uppercased_deduplicated_and_default_to_france():
    assert address_countries(["fr", None, "DE", "FR"]) == ["FR", "DE"]
    assert address_countries([None]) == ["FR"]


CONNECTED_AT = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)


def _connection(status: str = "CONNECTED", **refusal: object) -> MarketplaceConnection:
    return MarketplaceConnection(
        marketplace="AMAZON",
        status=status,
        connection_id="c1",
        seller_id="A1",
        marketplace_ids=["A13V1IB3VIYZZH"],
        region="eu",
        connected_at=CONNECTED_AT,
        reason=None,
        as_of=CONNECTED_AT,
        **refusal,
    )


@pytest.mark.parametrize(
    ("connection", "shown"),
    [
        (_connection(), "CONNECTED"),
        (_connection(refused_at=CONNECTED_AT + timedelta(seconds=1)), "REAUTH_REQUIRED"),
        (_connection(refused_at=CONNECTED_AT), "REAUTH_REQUIRED"),
        (_connection(refused_at=CONNECTED_AT - timedelta(seconds=1)), "CONNECTED"),
        (
            _connection(refused_at=CONNECTED_AT + timedelta(1), refused_seller_id="A1"),
            "REAUTH_REQUIRED",
        ),
        (_connection(refused_at=CONNECTED_AT + timedelta(1), refused_seller_id="B2"), "CONNECTED"),
        (_connection("DISCONNECTED", refused_at=CONNECTED_AT + timedelta(1)), "DISCONNECTED"),
    ],
)
def test_a_refusal_counts_against_the_connection_of_its_seller_made_before_it(connection, shown):
    assert connection.as_shown().status == shown
