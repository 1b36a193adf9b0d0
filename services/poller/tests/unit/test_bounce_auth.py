"""Pure: a reply's signed bounce address, what our servers wrote of a bounce's envelope, and
the check of one against the other (inbound/bounce_auth.py); the signing secret's settings."""

from __future__ import annotations

import uuid

import pytest
from keybuzz_devstack.testing import PRODUCTION_SETTINGS
from keybuzz_poller.inbound.addresses import parse_address, split_bounce_tag
from keybuzz_poller.inbound.bounce_auth import (
    Envelope,
    NamedReply,
    authenticate,
    bounce_address,
    envelope_of,
)
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.settings import SettingsError, load_settings

OLD, NEW = b"o" * 32, b"n" * 32
PLAIN = "amazon.t1.fr.abcdefgh23456789@inbound.keybuzz.test"


def reply(key: bytes = NEW) -> NamedReply:
    ticket_message_id = str(uuid.uuid4())
    return NamedReply(
        ticket_message_id=ticket_message_id,
        envelope_sender=bounce_address(PLAIN, ticket_message_id, key),
    )


def test_the_bounce_address_is_the_inbound_address_tagged_and_still_parses_as_it() -> None:
    named = reply()
    plain, tag = split_bounce_tag(named.envelope_sender.upper())  # case is not kept by MTAs
    assert plain == PLAIN and tag is not None
    assert tag.reply_id == uuid.UUID(named.ticket_message_id).hex
    assert named.envelope_sender.startswith(PLAIN.split("@")[0] + "+b-")
    assert parse_address(named.envelope_sender) == parse_address(PLAIN)
    assert split_bounce_tag(PLAIN) == (PLAIN, None)
    assert bounce_address(named.envelope_sender, named.ticket_message_id, NEW) == (
        named.envelope_sender
    )  # made from the plain address even when given a tagged one


def test_a_rotated_secret_is_accepted_only_while_it_is_the_previous_one() -> None:
    named = reply(OLD)
    envelope = Envelope(recipient=named.envelope_sender, sender="")
    assert authenticate(envelope, [named], [NEW, OLD]) == (named, None)
    refused, reason = authenticate(envelope, [named], [NEW])
    assert refused is None and reason is not None and "signature" in reason


def test_the_envelope_is_what_dovecot_and_the_mx_stamped_on_top() -> None:
    stamped = (
        b"Return-Path: <>\r\nDelivered-To: keybuzz+tenant-t1@localhost\r\n"
        b"Received: from x\r\n\tby vm with LMTP\r\n"
        b"X-KeyBuzz-Inbound-Address: " + PLAIN.upper().encode() + b"\r\n"
        b"Return-Path: <someone@else.example>\r\n"
        b"X-KeyBuzz-Inbound-Address: other@inbound.keybuzz.test\r\nSubject: x\r\n\r\n"
        b"Return-Path: <>\r\n"
    )
    assert envelope_of(stamped) == Envelope(recipient=PLAIN, sender="")
    relayed = b"Return-Path: <mailer-daemon@amazon.fr>\r\nX-KeyBuzz-Inbound-Address: a@b\r\n\r\n"
    assert envelope_of(relayed) == Envelope(recipient="a@b", sender="mailer-daemon@amazon.fr")
    # A Return-Path only under our stamp is the sender's own writing: no envelope sender.
    forged = b"X-KeyBuzz-Inbound-Address: a@b\r\nReturn-Path: <>\r\n\r\n"
    assert envelope_of(forged) == Envelope(recipient="a@b", sender=None)
    refused, reason = authenticate(envelope_of(forged), [reply()], [NEW])
    assert refused is None and reason is not None and "no envelope sender" in reason


# What a production poller is given (the rest of its settings keep their defaults).
PRODUCTION = {
    **PRODUCTION_SETTINGS,
    "NATS_USER": "poller",
    "IMAP_PASSWORD": "i" * 32,
    "SMTP_RELAY_PASSWORD": "s" * 32,
    "SMTP_RELAY_STARTTLS": "true",
    "BOUNCE_SIGNING_SECRET": "b" * 32,
}


def test_production_takes_a_strong_bounce_signing_secret_and_the_previous_one() -> None:
    settings = load_settings(PollerSettings, PRODUCTION)
    assert settings.bounce_signing_keys == (b"b" * 32,)
    rotated = {**PRODUCTION, "BOUNCE_SIGNING_PREVIOUS_SECRET": "a" * 32}
    assert load_settings(PollerSettings, rotated).bounce_signing_keys == (b"b" * 32, b"a" * 32)
    assert "b" * 32 not in repr(settings)


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"BOUNCE_SIGNING_SECRET": "keybuzz-dev-" + "x" * 32}, "development value"),
        ({"BOUNCE_SIGNING_SECRET": "b" * 31}, "BOUNCE_SIGNING_SECRET is shorter than 32 bytes"),
        ({"BOUNCE_SIGNING_PREVIOUS_SECRET": "a" * 31}, "BOUNCE_SIGNING_PREVIOUS_SECRET is shorter"),
    ],
)
def test_a_development_or_short_bounce_signing_secret_is_refused(
    given: dict[str, str], problem: str
) -> None:
    with pytest.raises(SettingsError, match=problem):
        load_settings(PollerSettings, {**PRODUCTION, **given})
    if "shorter" in problem:  # in every environment
        with pytest.raises(SettingsError, match=problem):
            load_settings(PollerSettings, given)


def test_production_refuses_to_start_without_a_bounce_signing_secret() -> None:
    unset = {k: v for k, v in PRODUCTION.items() if k != "BOUNCE_SIGNING_SECRET"}
    with pytest.raises(SettingsError, match="BOUNCE_SIGNING_SECRET must be set"):
        load_settings(PollerSettings, unset)
    assert load_settings(PollerSettings, {}).bounce_signing_keys  # development: its default
