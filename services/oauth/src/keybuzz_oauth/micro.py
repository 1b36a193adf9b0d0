"""Operator actions over NATS: ``nats req keybuzz.oauth.<action> '<json>'``."""

from __future__ import annotations

from keybuzz_shared.micro import MicroEndpoint
from keybuzz_shared.service import Runtime

from keybuzz_oauth.bootstrap import ports_of
from keybuzz_oauth.schemas import ShopIdCollisionBody
from keybuzz_oauth.settings import OauthSettings


def micro_endpoints(runtime: Runtime[OauthSettings]) -> list[MicroEndpoint]:
    async def shop_id_collisions(_: bytes) -> object:
        found = await ports_of(runtime).connections.shop_id_collisions()
        return [
            ShopIdCollisionBody(
                connection_id=c.connection_id,
                tenant_id=c.tenant_id,
                marketplace=c.marketplace,
                shop_id=c.seller_id,
                canonical_shop_id=c.canonical_id,
                held_by=c.held_by,
                held_by_tenant_id=c.held_by_tenant,
                held_by_marketplace=c.held_by_marketplace,
                found_at=c.found_at,
            )
            for c in found
        ]

    return [
        MicroEndpoint(
            "shop-id-collisions",
            shop_id_collisions,
            "shops connected twice under two spellings of their id (both kept): {}",
        )
    ]
