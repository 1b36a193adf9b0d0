"""Files a Fnac message links, on the real servers: fetched only from the origin the
connector declares for Fnac (here FNAC_API_URL's, the sandbox's double on loopback), never
from anywhere else a link points, such as the real OpenBao the tests run."""

from __future__ import annotations

import httpx
from keybuzz_devstack.testing import Infra, RunningService
from keybuzz_shared.vault import VaultClient
from test_fnac_polling import (
    CAP,
    admin,
    attachment,
    buyer_writes,
    module_poller,
    poll,
    polled_shop,
    poller,
    ticket_of,
)

__all__ = ["admin", "module_poller", "poller"]  # fixtures of test_fnac_polling.py used here


async def test_a_link_to_openbao_is_refused_and_the_message_stored_once(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient, stack: Infra
) -> None:
    seal_status = f"{stack.vault_addr}/v1/sys/seal-status"
    async with httpx.AsyncClient(timeout=10) as http:  # what the link would have fetched
        assert "sealed" in (await http.get(seal_status)).json()
    spec, shop = await polled_shop(poller, vault, admin)
    files = [
        {"name": "seal.json", "contentType": "application/json", "size": 10, "url": seal_status},
        {"name": "facture.pdf", "contentType": "application/pdf", "size": 3_000},
        {"name": "film.mp4", "contentType": "video/mp4", "size": CAP + 1},
    ]
    written = await buyer_writes(admin, spec, description="Pièces jointes", attachments=files)
    await poll(poller, shop)
    await poll(poller, shop)  # read again by the listing's overlap: still once
    ticket = await ticket_of(poller, shop, written["orderId"])
    [message] = [m for m in ticket["messages"] if m["externalId"] == written["messageId"]]
    refused, declared, oversize = message["attachments"]
    origin = stack.vault_addr.removeprefix("http://")
    assert refused["filename"] == "seal.json" and refused["size"] == 0
    assert (
        refused["skipped"].startswith("refused: seal.json: http://")
        and origin in (refused["skipped"])
    )
    assert "not an origin the marketplace serves files from" in refused["skipped"]
    assert "seal-status" not in refused["skipped"]  # the link itself is not kept
    assert (declared["size"], "skipped" in declared) == (3_000, False)
    assert oversize["skipped"] == f"larger than {CAP} bytes"
    assert (await attachment(poller, shop.tenant_id, ticket, message, 0)).status_code == 404
    served = await attachment(poller, shop.tenant_id, ticket, message, 1)
    assert served.status_code == 200 and len(served.content) == 3_000
    rows = await poller.runtime.pool.fetch(
        "SELECT raw::text, attachments::text FROM poller_external_messages"
        " WHERE tenant_id = $1 AND external_id = $2",
        shop.tenant_id,
        written["messageId"],
    )
    assert len(rows) == 1
    assert not any("sealed" in (r["raw"] or "") + (r["attachments"] or "") for r in rows)
    stored = await poller.runtime.pool.fetch(
        "SELECT a.content, a.skipped FROM poller_message_attachments a"
        " JOIN poller_external_messages e ON e.id = a.external_message_id WHERE e.tenant_id = $1",
        shop.tenant_id,
    )
    assert stored and not any(b"sealed" in bytes(r["content"] or b"") for r in stored)
