"""The conformance suite's driver of Amazon's relay (keybuzz_sandbox.relay_conformance):
the seeded FR seller's buyers write; replies are taken from the seller account's
registered address, refused (bounced) from any address that is not approved."""

from __future__ import annotations

import httpx
from keybuzz_sandbox.double_kit.driver import listed_texts, succeeded
from keybuzz_sandbox.relay_conformance import RelaySent

SELLER = "A12BCIS2R7HD4D"  # the seeded FR seller (seed.py)


class AmazonRelayDriver:
    async def reply_port(self, sandbox: httpx.AsyncClient) -> int:
        return int(succeeded(await sandbox.get("/_sandbox/config"))["replyRelay"]["port"])

    async def bounce_to(self, sandbox: httpx.AsyncClient, host: str, port: int) -> None:
        target = {"smtpHost": host, "smtpPort": port}
        succeeded(await sandbox.put("/_sandbox/replies/bounce-target", json=target))

    async def send(self, sandbox: httpx.AsyncClient, to: str, mx_port: int) -> RelaySent:
        body = {"sellingPartnerId": SELLER, "to": to, "smtpHost": "127.0.0.1", "smtpPort": mx_port}
        sent = succeeded(await sandbox.post("/_sandbox/messages", json=body))["sent"][0]
        alias = str(sent["sender"]).rsplit("<", 1)[-1].rstrip(">").lower()
        return RelaySent(sent["messageId"], alias, sent["orderId"])

    async def reply_sender(self, sandbox: httpx.AsyncClient) -> str:
        sellers = succeeded(await sandbox.get("/_sandbox/sellers"))
        return str(next(s for s in sellers if s["sellingPartnerId"] == SELLER)["registeredEmail"])

    async def refusing(self, sandbox: httpx.AsyncClient, alias: str) -> str:
        return "not-approved@seller.example"

    async def replies(self, sandbox: httpx.AsyncClient, alias: str) -> list[str]:
        return await listed_texts(sandbox, f"/_sandbox/buyers/{alias}/inbox", "messages")


def relay_drivers() -> dict[str, AmazonRelayDriver]:
    return {"AMAZON": AmazonRelayDriver()}
