"""Mail relays are asked of the registry at each use, as shop APIs are: a relay connector
registered while the poller runs has its inbound addresses read and its replies checked
by its own rules, and once it is gone its addresses are no one's (the MX refuses them)."""

from __future__ import annotations

import msgspec
import pytest
from keybuzz_connector_amazon.connector import LIMITS, AmazonConnector
from keybuzz_connector_amazon.relay_mail import AmazonRelayMail
from keybuzz_poller.inbound.addresses import parse_address
from keybuzz_poller.inbound.relays import default_marketplace, relay_for, relay_names
from keybuzz_poller.replies.checks import InvalidReply, ReplyRequest, check_reply
from keybuzz_shared.connectors.registry import registered

ADDRESS = "relaykit.t-0123456789abcdef.fr.token@inbound.keybuzz.test"


class _RelayKitMail(AmazonRelayMail):
    address_label = "relaykit"


class _RelayKit(AmazonConnector):
    """A second relay marketplace: another address label, shorter replies."""

    marketplace = "RELAY_KIT"
    display_name = "Relay Kit"
    mail_relay = _RelayKitMail(msgspec.structs.replace(LIMITS, max_text_length=10))


def test_a_relay_registered_at_run_time_is_found_and_forgotten_when_gone() -> None:
    assert parse_address(ADDRESS) is None
    with registered(_RelayKit()) as connector:
        parts = parse_address(ADDRESS)
        assert parts is not None and parts.marketplace == "RELAY_KIT"
        assert relay_for("RELAY_KIT") is connector.mail_relay
        assert relay_names()["RELAY_KIT"] == "Relay Kit"
        assert default_marketplace() != "RELAY_KIT"  # the first relay stays the default
        with pytest.raises(InvalidReply, match="longer than 10 characters"):
            check_reply(ReplyRequest(text="eleven chars"), "RELAY_KIT")
        assert check_reply(ReplyRequest(text="eleven chars"), default_marketplace())
    assert parse_address(ADDRESS) is None
    assert relay_for("RELAY_KIT") is relay_for(None)  # an unknown one: the first relay's
