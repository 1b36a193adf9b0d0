"""How a seller connects one shop of a Mirakl operator: the shop user's API key and the
shop's id, checked by one call as that shop before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from keybuzz_shared.connectors.seam import CredentialField, ShopApiSettings

from keybuzz_connector_mirakl.client import MiraklClient, MiraklKey
from keybuzz_connector_mirakl.errors import MiraklAnswerUnreadable
from keybuzz_connector_mirakl.settings import mirakl_api

CREDENTIAL_FIELDS = (
    # Mirakl's API keys are UUIDs (the shop's back office, "API key").
    CredentialField(
        name="api_key",
        json_name="apiKey",
        label="Clé API",
        secret=True,
        pattern="[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
        format="UUID",
        max_length=36,
        case="lower",
    ),
    # The shop's id (a number, the back office's "Shop ID"): one key may serve several
    # shops, and the connection is one shop of one operator.
    CredentialField(
        name="shop_id",
        json_name="shopId",
        label="Shop ID",
        pattern="[0-9]{1,12}",
        format="digits",
        max_length=12,
        account=True,
    ),
)
# A person waits for the check: one retry, short back-offs; a longer Retry-After from the
# operator is passed on rather than waited for.
CHECK_DEADLINE_SECONDS = 15.0


def key_of(fields: Mapping[str, str]) -> MiraklKey:
    """The key and shop named by ``fields`` (those of CREDENTIAL_FIELDS); ValueError when
    one is missing."""
    missing = [f.name for f in CREDENTIAL_FIELDS if not fields.get(f.name)]
    if missing:
        raise ValueError(f"Mirakl credentials lack {', '.join(missing)}")
    return MiraklKey(api_key=fields["api_key"].strip(), shop_id=fields["shop_id"].strip())


def shop_identity(operator: str, shop_id: str) -> str:
    """One shop of one operator: two operators' shops of one id are two shops."""
    return f"mirakl:{operator}:{shop_id.strip()}"


class MiraklCredentialCheck:
    """The seam's ``CredentialCheck``: one M11 call (a thread, without messages) as the
    shop; Mirakl answers 401 for a key it does not know and 403 for a shop the key's user
    has no access to."""

    async def verify(
        self, credentials: Mapping[str, str], *, http: httpx.AsyncClient, settings: ShopApiSettings
    ) -> str:
        key = key_of(credentials)
        api = mirakl_api(settings)
        client = MiraklClient(
            key,
            http,
            api.api_url,
            operator=api.operator,
            call_deadline=min(CHECK_DEADLINE_SECONDS, api.call_deadline_seconds),
            attempts=2,
            max_backoff=2.0,
            max_retry_after=5.0,
        )
        answer = await client.get_json("M11", "api/inbox/threads", {"limit": "1"})
        _check_listing(api.operator, answer, key.shop_id)
        return shop_identity(api.operator, key.shop_id)


def _check_listing(operator: str, answer: Any, shop_id: str) -> None:
    """An M11 answer, for the shop asked: a thread it lists names the shop among its
    participants."""
    if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
        raise MiraklAnswerUnreadable(operator, "M11", "not a list of threads")
    for thread in answer["data"]:
        shops = {
            str(p.get("id"))
            for p in (thread.get("authorized_participants") or [])
            if isinstance(thread, dict) and isinstance(p, dict) and p.get("type") == "SHOP"
        }
        if shops and shop_id not in shops:
            raise MiraklAnswerUnreadable(operator, "M11", f"shop {shop_id} asked, another answered")
