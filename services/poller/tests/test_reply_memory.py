"""What replies hold in memory at once: bounded per instance and per tenant, over real HTTP.

A reply's body is held in the budget from its headers (its Content-Length) until its
answer has left (docs/SECURITY.md, "Replies: bounded attachments …"). The tests hold a
reply half-sent on a raw connection, so the budget is taken for as long as they say;
the poller runs in-process with the minimum budgets the settings allow.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.replies import store
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.settings import REPLY_MAX_BODY_BYTES, PollerSettings
from keybuzz_shared.settings import SettingsError, load_settings
from mailkit import headers
from test_replies import (
    BuyerThread,
    Sandbox,
    buyer_thread,
    poller_settings,
    replies_stored,
    sandbox,
    set_sender,
)

MIB = 1024 * 1024
TENANT_BUDGET = REPLY_MAX_BODY_BYTES  # the least the settings take: one largest body
INSTANCE_BUDGET = 30 * MIB
__all__ = ["sandbox"]  # the fixture, shared with test_replies.py


@pytest.fixture
async def poller(
    start_service: Callable[..., Awaitable[RunningService]],
    dovecot: MailServer,
    sandbox: Sandbox,
) -> RunningService:
    service = await start_service(
        DEFINITION,
        **poller_settings(
            dovecot,
            sandbox.relay,
            REPLY_SENDER_ENABLED="false",  # what is queued is the point here, not the send
            REPLY_MEMORY_BUDGET_BYTES=str(INSTANCE_BUDGET),
            REPLY_TENANT_MEMORY_BUDGET_BYTES=str(TENANT_BUDGET),
        ),
    )
    await sandbox.bounce_to(service.runtime.settings.mx_port)
    return service


def reply_body(attachment_bytes: int) -> bytes:
    """A valid reply with one PDF of ``attachment_bytes``."""
    content = b"%PDF-1.4\n" + b"7" * (attachment_bytes - 9)
    return json.dumps(
        {
            "text": "Votre facture est jointe.",
            "attachments": [
                {
                    "filename": "facture.pdf",
                    "contentType": "application/pdf",
                    "contentBase64": base64.b64encode(content).decode(),
                }
            ],
        }
    ).encode()


@dataclass
class RawReply:
    """A reply on a connection of its own: headers first, the body when the test says."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    body: bytes

    @classmethod
    async def open(
        cls, poller: RunningService, thread: BuyerThread, body: bytes, **auth: str
    ) -> RawReply:
        url = urlsplit(poller.url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        fields = {
            "Host": f"{url.hostname}:{url.port}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            **(auth or headers(poller, thread.tenant_id)),
        }
        head = f"POST /api/v1/tickets/{thread.ticket_id}/replies HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in fields.items()
        )
        writer.write(head.encode() + b"\r\n" + body[: len(body) // 2])
        await writer.drain()
        return cls(reader, writer, body)

    async def finish(self) -> tuple[int, dict[str, str], Any]:
        self.writer.write(self.body[len(self.body) // 2 :])
        await self.writer.drain()
        return await self.response()

    async def response(self) -> tuple[int, dict[str, str], Any]:
        status_line = await asyncio.wait_for(self.reader.readline(), 30)
        fields: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            fields[name.strip().lower()] = value.strip()
        payload = await self.reader.readexactly(int(fields["content-length"]))
        self.writer.close()
        return int(status_line.split()[1]), fields, json.loads(payload)


async def post(
    poller: RunningService, tenant_id: str, ticket_id: str, body: bytes
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=poller.url, timeout=60) as http:
        return await http.post(
            f"/api/v1/tickets/{ticket_id}/replies",
            content=body,
            headers={**headers(poller, tenant_id), "Content-Type": "application/json"},
        )


async def held(poller: RunningService, tenant_id: str) -> int:
    """Body bytes the poller holds for the tenant (a wait condition, not an assertion)."""
    return ports_of(poller.runtime).replies.memory.held_by(tenant_id)


# --- one tenant cannot take the instance's memory ------------------------------------------


async def test_replies_beyond_the_budgets_get_429_or_503_with_retry_after_and_nothing_stored(
    poller: RunningService, sandbox: Sandbox
) -> None:
    registered = await sandbox.registered_email()
    threads = [await buyer_thread(poller, sandbox) for _ in range(3)]
    for thread in threads:
        await set_sender(poller, thread.tenant_id, registered)
    first, second, third = threads
    big = reply_body(10 * 1000 * 1000)  # Amazon's 10 MB: a 13 MB body
    assert 13 * 10**6 < len(big) < TENANT_BUDGET < 2 * len(big)

    # The first tenant's big reply is on its way: its headers are in, half its body.
    holding = await RawReply.open(poller, first, big)
    await eventually(lambda: held(poller, first.tenant_id))
    # The same tenant's next one would pass its budget: 429 before its body is read.
    refused = await RawReply.open(poller, first, reply_body(6 * MIB))
    status, fields, error = await refused.response()
    assert status == 429, error
    assert fields["retry-after"] == "2"
    assert error["error"] == "too_many_requests" and "retry" in error["message"]
    # Another tenant's is within both budgets: taken while the first is still held.
    other = await RawReply.open(poller, second, big)
    await eventually(lambda: held(poller, second.tenant_id))
    # A third tenant, within its own budget, would pass the instance's: 503.
    beyond = await RawReply.open(poller, third, reply_body(4 * MIB))
    status, fields, error = await beyond.response()
    assert status == 503, error
    assert fields["retry-after"] == "2"
    assert error["error"] == "unavailable" and "retry" in error["message"]
    assert [await replies_stored(poller, t.tenant_id) for t in threads] == [0, 0, 0]

    # Both held replies finish and are queued; the budget is given back after each.
    for reply, thread in ((holding, first), (other, second)):
        status, _, queued = await reply.finish()
        assert (status, queued["status"]) == (202, "QUEUED")
        assert await held(poller, thread.tenant_id) == 0
    # The refused ones, sent again, are taken now.
    for thread, size in ((first, 6 * MIB), (third, 4 * MIB)):
        again = await post(poller, thread.tenant_id, thread.ticket_id, reply_body(size))
        assert again.status_code == 202, again.text
    assert [await replies_stored(poller, t.tenant_id) for t in threads] == [2, 1, 1]
    assert ports_of(poller.runtime).replies.memory.in_flight == 0


async def test_concurrent_big_replies_of_one_tenant_are_taken_within_its_budget_only(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    await set_sender(poller, thread.tenant_id, await sandbox.registered_email())
    big = reply_body(10 * 1000 * 1000)
    replies = await asyncio.gather(
        *(RawReply.open(poller, thread, big) for _ in range(6)), return_exceptions=True
    )
    answers = []
    for reply in replies:
        assert isinstance(reply, RawReply), reply
        try:
            answers.append(await reply.finish())
        except (ConnectionError, asyncio.IncompleteReadError):
            answers.append(await reply.response())  # refused before its body was read
    statuses = sorted(status for status, _, _ in answers)
    assert statuses[0] == 202 and statuses[-1] == 429, statuses  # one body fits the budget
    assert all(fields["retry-after"] == "2" for status, fields, _ in answers if status == 429)
    assert await replies_stored(poller, thread.tenant_id) == statuses.count(202)
    assert await held(poller, thread.tenant_id) == 0
    later = await post(poller, thread.tenant_id, thread.ticket_id, big)
    assert later.status_code == 202, later.text


async def test_a_stranger_is_refused_before_the_budget_is_taken_or_the_body_read(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    big = reply_body(10 * 1000 * 1000)
    intruder = {**headers(poller, "tintruder"), "X-Tenant-Id": thread.tenant_id}
    for auth, expected in (({"Authorization": "Bearer forged"}, 401), (intruder, 403)):
        reply = await RawReply.open(poller, thread, big, **auth)
        status, fields, error = await reply.response()  # answered, half the body unsent
        assert status == expected, error
        assert "retry-after" not in fields
    assert await held(poller, thread.tenant_id) == 0
    assert ports_of(poller.runtime).replies.memory.in_flight == 0
    assert await replies_stored(poller, thread.tenant_id) == 0


# --- the sender holds a bounded batch of mails ------------------------------------------


async def test_a_sending_round_claims_mails_up_to_its_byte_budget_and_always_one(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    await set_sender(poller, thread.tenant_id, await sandbox.registered_email())
    for _ in range(3):
        queued = await post(poller, thread.tenant_id, thread.ticket_id, reply_body(3 * MIB))
        assert queued.status_code == 202, queued.text
    pool = poller.runtime.pool
    sizes = await pool.fetch(
        "SELECT octet_length(e.raw) AS size FROM poller_replies r"
        " JOIN poller_external_messages e ON e.id = r.external_message_id WHERE r.tenant_id = $1",
        thread.tenant_id,
    )
    mail = sizes[0]["size"]
    assert 4 * 10**6 < mail < 5 * 10**6 and len({s["size"] for s in sizes}) == 1

    two = await store.claim_due(pool, 16, max_bytes=2 * mail + mail // 2, lease_seconds=60)
    assert len(two) == 2 and all(len(r.mail) == mail for r in two)
    # A budget smaller than one mail still sends the oldest: a reply is never stuck.
    one = await store.claim_due(pool, 16, max_bytes=1, lease_seconds=60)
    assert len(one) == 1 and one[0].ticket_message_id not in {r.ticket_message_id for r in two}
    assert await store.claim_due(pool, 16, max_bytes=10**9, lease_seconds=60) == []


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({"REPLY_TENANT_MEMORY_BUDGET_BYTES": str(REPLY_MAX_BODY_BYTES - 1)}, "TENANT_MEMORY"),
        ({"REPLY_MEMORY_BUDGET_BYTES": str(MIB)}, "REPLY_MEMORY_BUDGET_BYTES"),
        (
            {
                "REPLY_MEMORY_BUDGET_BYTES": str(REPLY_MAX_BODY_BYTES),
                "REPLY_TENANT_MEMORY_BUDGET_BYTES": str(2 * REPLY_MAX_BODY_BYTES),
            },
            "must not exceed",
        ),
    ],
)
def test_budgets_that_could_never_let_a_reply_in_are_refused_at_start_up(
    environ: dict[str, str], problem: str
) -> None:
    with pytest.raises(SettingsError, match=problem):
        load_settings(PollerSettings, environ)
    assert load_settings(PollerSettings, {}).reply_tenant_memory_budget_bytes == (
        REPLY_MAX_BODY_BYTES
    )
