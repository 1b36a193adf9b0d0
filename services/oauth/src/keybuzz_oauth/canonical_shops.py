"""Shop connections stored in another spelling of their shop id than their connector's
canonical one (``credential_form.canonical``: "043115" for shop 43115), or with an account
identity in another form than the one their connector declares (a shop of a connector
whose instances are data was known by its catalogue code, it is by its instance: the
seam's ``InstanceIdentity``), are
brought to it when oauth starts, and those that would then be a shop another connection
holds are reported, never merged nor ended.

This is a data migration in Python rather than SQL because the rule is each connector's
declaration, which only Python can read; it runs at every start (after the numbered
migrations) and finds nothing to do once every connection is canonical, and a connector
whose rule changes is applied to the rows already stored the next time oauth starts.

For each live connection whose id or account identity is not canonical, in one unit of work
holding the account's and the tenant's locks:
- another live connection holds the canonical shop (its identity, or its id under the same
  marketplace): the pair is recorded (``shop_id_collisions``), logged, and both are kept
  as they are, for an operator to settle (``keybuzz.oauth.shop-id-collisions``);
- else the row takes the canonical id and identity, the credentials in Vault their
  canonical shop id (a failed Vault write rolls the row back), and ``connection.connected``
  is said again with the canonical id, which the poller's and orders' own shop tables take;
  a row whose identity alone changes form is that row only (no other table holds it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from keybuzz_shared.connectors.credential_form import (
    account_name,
    canonical_account,
    reidentified,
)
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.events import ConnectionConnected
from keybuzz_shared.vault import VaultError

from keybuzz_oauth.connections import (
    ShopCredentials,
    ShopIdCollision,
    StoredShop,
    shop_marketplaces,
)
from keybuzz_oauth.ports import OauthPorts, OauthUnit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CanonicalPass:
    """What one pass did: connections rewritten, and the collisions standing after it."""

    rewritten: int
    collisions: list[ShopIdCollision]


async def canonicalise_shop_ids(ports: OauthPorts) -> CanonicalPass:
    rewritten = 0
    for shop in await ports.connections.live_shops(shop_marketplaces()):
        fields = connector_for(shop.marketplace).credential_fields
        canonical = canonical_account(fields, shop.seller_id)
        identity = ports.shops.identity_on(shop.marketplace, canonical)
        if identity is None and shop.identity is not None:
            identity = reidentified(shop.identity, canonical)
        if (canonical, identity) == (shop.seller_id, shop.identity):
            continue
        try:
            async with ports.unit_of_work() as uow:
                done = await _bring(ports, uow, shop, canonical, identity)
        except VaultError as exc:
            log.error(
                "shop id not made canonical: Vault refused; next start",
                extra={**_where(shop), "reason": str(exc)},
            )
            continue
        rewritten += done
    collisions = await ports.connections.shop_id_collisions()
    for collision in collisions:
        log.warning(
            "shop connected twice (two spellings of its id, or two names of its instance): "
            "both kept, for an operator",
            extra={
                "connection_id": collision.connection_id,
                "tenant_id": collision.tenant_id,
                "marketplace": collision.marketplace,
                "shop_id": collision.shop_id,
                "canonical_shop_id": collision.canonical_shop_id,
                "held_by": collision.held_by,
                "held_by_tenant_id": collision.held_by_tenant_id,
                "held_by_marketplace": collision.held_by_marketplace,
            },
        )
    if rewritten or collisions:
        log.info(
            "shop ids made canonical",
            extra={"rewritten": rewritten, "collisions": len(collisions)},
        )
    return CanonicalPass(rewritten, collisions)


async def _bring(
    ports: OauthPorts, uow: OauthUnit, shop: StoredShop, canonical: str, identity: str | None
) -> bool:
    """The shop to its canonical id, or its collision recorded; True when rewritten."""
    if identity is not None:
        await uow.store.lock_account(identity)
    else:
        await uow.store.lock_seller(canonical, shop.marketplace)
    await uow.store.lock_tenants([shop.tenant_id], shop.marketplace)
    holder = await uow.store.holder_of(shop, canonical, identity)
    if holder is not None:
        await uow.store.record_collision(shop, canonical, holder[0])
        return False
    if not await uow.store.rewrite_shop_id(shop, canonical, identity):
        return False  # changed since it was read (another instance, a disconnect)
    if canonical == shop.seller_id:  # its identity alone changed form: nothing else knows it
        log.info("shop identity made the marketplace's", extra=_where(shop))
        return True
    stored = await ports.vault.read_shop(shop.tenant_id, shop.marketplace)
    if stored is not None:
        name = account_name(connector_for(shop.marketplace).credential_fields)
        await ports.vault.store_shop(
            ShopCredentials(
                tenant_id=stored.tenant_id,
                marketplace=stored.marketplace,
                fields={**stored.fields, name: canonical},
                created_at=stored.created_at,
            )
        )
    uow.emit(
        ConnectionConnected(
            tenant_id=shop.tenant_id,
            marketplace=shop.marketplace,
            connection_id=shop.connection_id,
            seller_id=canonical,
            marketplace_ids=[],
            region="",
        )
    )
    log.info("shop id made canonical", extra={**_where(shop), "canonical_shop_id": canonical})
    return True


def _where(shop: StoredShop) -> dict[str, str]:
    return {
        "connection_id": shop.connection_id,
        "tenant_id": shop.tenant_id,
        "marketplace": shop.marketplace,
        "shop_id": shop.seller_id,
    }
