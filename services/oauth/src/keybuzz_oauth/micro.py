"""Operator actions over NATS: ``nats req keybuzz.oauth.<action> '<json>'``."""

from __future__ import annotations

from keybuzz_shared.micro import MicroEndpoint
from keybuzz_shared.service import Runtime

from keybuzz_oauth.bootstrap import ports_of
from keybuzz_oauth.settings import OauthSettings


def micro_endpoints(runtime: Runtime[OauthSettings]) -> list[MicroEndpoint]:
    async def shop_id_collisions(_: bytes) -> object:
        return await ports_of(runtime).connections.shop_id_collisions()

    return [
        MicroEndpoint(
            "shop-id-collisions",
            shop_id_collisions,
            "shops connected twice under two spellings of their id (both kept): {}",
        )
    ]
