"""The conformance suite's driver of ManoMano's relay (keybuzz_sandbox.relay_conformance),
and the lister of its seeded sellers for `make run`'s banner (the ``Double``'s
``listers_at``)."""

from __future__ import annotations

import httpx
from keybuzz_sandbox.conformance import DoubleShop
from keybuzz_sandbox.double_kit.driver import listed_texts, shops_of, succeeded
from keybuzz_sandbox.relay_conformance import RelaySent

ADMIN = "/_sandbox/manomano"


class ManoManoRelayDriver:
    async def reply_port(self, sandbox: httpx.AsyncClient) -> int:
        return int(succeeded(await sandbox.get(f"{ADMIN}/relay"))["port"])

    async def bounce_to(self, sandbox: httpx.AsyncClient, host: str, port: int) -> None:
        succeeded(await sandbox.put(f"{ADMIN}/bounce-target", json={"host": host, "port": port}))

    async def send(self, sandbox: httpx.AsyncClient, to: str, mx_port: int) -> RelaySent:
        # A new order each time: its buyer's alias is one no other test made unreachable.
        order = succeeded(await sandbox.post(f"{ADMIN}/orders", json={"contract": 1001}))
        body = {"kind": "buyer", "to": to, "mxPort": mx_port, "orderId": order["order_reference"]}
        sent = succeeded(await sandbox.post(f"{ADMIN}/mails", json=body))["sent"]
        return RelaySent(sent["messageId"], sent["sender"], sent["orderId"])

    async def reply_sender(self, sandbox: httpx.AsyncClient) -> str:
        return "service-client@vendeur.example"

    async def refusing(self, sandbox: httpx.AsyncClient, alias: str) -> str:
        succeeded(await sandbox.post(f"{ADMIN}/unreachable", json={"alias": alias}))
        return "service-client@vendeur.example"

    async def replies(self, sandbox: httpx.AsyncClient, alias: str) -> list[str]:
        return await listed_texts(sandbox, f"{ADMIN}/threads/{alias}", "replies")


def relay_drivers() -> dict[str, ManoManoRelayDriver]:
    return {"MANOMANO": ManoManoRelayDriver()}


class ManoManoSellers:
    """The double's sellers as shops a newcomer connects (their key and contract id)."""

    shops_listed_at = f"{ADMIN}/sellers"

    async def shops(self, http: httpx.AsyncClient) -> list[DoubleShop]:
        fields = {"api_key": "apiKey", "seller_contract_id": "contract"}
        listed = succeeded(await http.get(self.shops_listed_at))
        return shops_of(listed, account="contract", credentials=fields)


def lister(marketplace: str) -> ManoManoSellers | None:
    return ManoManoSellers() if marketplace == "MANOMANO" else None
