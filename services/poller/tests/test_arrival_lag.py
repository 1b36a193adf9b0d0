"""A ticket message's arrival lag: from the MX's acceptance (its X-KeyBuzz-Accepted-At stamp)
to the ticket message stored, over GET /api/v1/tickets/{id}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from keybuzz_devstack.testing import MailServer, RunningService
from keybuzz_poller.reading.relay_mail import parse
from mailkit import (
    deliver_behind_the_mx,
    get_json,
    module_poller,
    new_tenant,
    poll_now,
    relay_mail,
    send,
    synced,
)

# Each test works with tenants of its own: one poller for the module's tests.
poller = module_poller

FORGED = "2020-01-01T00:00:00+00:00"


async def only_message(poller: RunningService, tenant: str) -> dict[str, Any]:
    [ticket] = (await get_json(poller, tenant, "/api/v1/tickets"))["items"]
    [message] = (await get_json(poller, tenant, f"/api/v1/tickets/{ticket['id']}"))["messages"]
    return dict(message)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_mail_through_the_mx_shows_when_it_was_accepted_and_its_lag(
    poller: RunningService,
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    mail = relay_mail(address)
    mail["X-KeyBuzz-Accepted-At"] = FORGED  # the sender's own: below the MX's stamp
    before = datetime.now(UTC)
    await send(poller, mail, address)
    after = datetime.now(UTC)
    assert (await poll_now(poller, tenant))["stored"] == 1

    message = await only_message(poller, tenant)
    accepted = at(message["acceptedAt"])
    assert before <= accepted <= after
    lag = (at(message["receivedAt"]) - accepted).total_seconds()
    assert message["arrivalLagSeconds"] == round(lag, 3)
    assert 0 < message["arrivalLagSeconds"] < 30


async def test_mail_from_another_path_has_no_arrival_lag(
    poller: RunningService, dovecot: MailServer
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await deliver_behind_the_mx(dovecot, tenant, relay_mail(address))
    assert (await poll_now(poller, tenant))["stored"] == 1

    message = await only_message(poller, tenant)
    assert message["acceptedAt"] is None and message["arrivalLagSeconds"] is None


async def mail_to_ticket(poller: RunningService) -> tuple[float, float]:
    """keybuzz_poller_mail_to_ticket_seconds: (count, sum) on /metrics."""
    name = "keybuzz_poller_mail_to_ticket_seconds"
    return await poller.metric(f"{name}_count{{"), await poller.metric(f"{name}_sum{{")


async def test_mail_to_ticket_is_measured_from_each_mails_acceptance(
    poller: RunningService, dovecot: MailServer
) -> None:
    """The histogram counts from the mail's own stamp, not from when its tenant was due."""
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    mail = relay_mail(address)
    mail["X-KeyBuzz-Accepted-At"] = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    await deliver_behind_the_mx(dovecot, tenant, mail)  # as if the MX took it 30 s ago
    count, total = await mail_to_ticket(poller)
    assert (await poll_now(poller, tenant))["stored"] == 1
    after_count, after_total = await mail_to_ticket(poller)
    assert after_count == count + 1
    assert 30 <= after_total - total < 60


def stamped(*values: str) -> bytes:
    mail = EmailMessage()
    for value in values:
        mail["X-KeyBuzz-Accepted-At"] = value
    mail["Subject"] = "Order 402-1234567-1234567"
    mail.set_content("hello")
    return mail.as_bytes()


def test_the_parser_takes_the_topmost_stamp_with_a_time_zone_only() -> None:
    topmost = "2026-11-23T01:02:03.456789+00:00"
    assert parse(stamped(topmost, FORGED)).accepted_at == at(topmost)
    assert parse(stamped("2026-11-23T01:02:03")).accepted_at is None  # no zone: no time
    assert parse(stamped("yesterday")).accepted_at is None
    assert parse(stamped()).accepted_at is None
