"""A seller's ORDER_CHANGE subscription on in-memory ports: made once (a redelivered event
finds it in place), moved from another queue's destination, recorded for the seller's
notifications; deleted and ended on a disconnection. Amazon's side stays in
``test_order_notifications.py``."""

from __future__ import annotations

import pytest
from keybuzz_connector_amazon import CredentialsMissing
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_orders.notifications.subscriptions import OrderSubscriptions
from keybuzz_orders.ports import ChangeSubscription, HeldSubscription, SubscriptionPorts
from orders_fakes import FakeOrderChanges, InMemoryNotificationStore

TENANT, SELLER = "t-shop", "A1SELLER"


def subscriptions() -> tuple[OrderSubscriptions, InMemoryNotificationStore, FakeOrderChanges]:
    store, marketplace = InMemoryNotificationStore(), FakeOrderChanges()
    marketplace.sellers[TENANT] = (SELLER, "eu")
    return OrderSubscriptions(SubscriptionPorts(store, marketplace)), store, marketplace


async def test_a_seller_is_subscribed_once_and_recorded() -> None:
    use_case, store, marketplace = subscriptions()
    first = await use_case.subscribe(TENANT)
    assert await use_case.subscribe(TENANT) == first  # a redelivered event
    assert marketplace.subscriptions == {TENANT: ChangeSubscription(first, "dest-eu")}
    assert await store.subscription(TENANT, AMAZON) == HeldSubscription("ACTIVE", "eu", first)
    assert await store.tenant_of_seller(SELLER, AMAZON) == TENANT


async def test_a_subscription_to_another_queue_is_moved_to_ours() -> None:
    use_case, _, marketplace = subscriptions()
    marketplace.subscriptions[TENANT] = ChangeSubscription("sub-old", "dest-other-queue")
    moved = await use_case.subscribe(TENANT)
    assert marketplace.deleted == ["sub-old"]
    assert marketplace.subscriptions[TENANT] == ChangeSubscription(moved, "dest-eu")


async def test_a_disconnection_deletes_and_ends_it_once() -> None:
    use_case, store, marketplace = subscriptions()
    made = await use_case.subscribe(TENANT)
    await use_case.unsubscribe(TENANT)
    await use_case.unsubscribe(TENANT)  # a redelivered event: nothing left to delete
    assert marketplace.deleted == [made] and marketplace.subscriptions == {}
    assert await store.subscription(TENANT, AMAZON) == HeldSubscription("DELETED", "eu", None)
    assert await store.tenant_of_seller(SELLER, AMAZON) is None


async def test_a_seller_without_credentials_is_not_subscribed() -> None:
    use_case, store, marketplace = subscriptions()
    with pytest.raises(CredentialsMissing):
        await use_case.subscribe("t-gone")
    assert marketplace.subscriptions == {} and store.subscriptions == {}
