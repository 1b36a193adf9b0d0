-- Amazon's ORDER_CHANGE notifications (docs/ORDERS.md, "Order notifications").

-- Each seller's ORDER_CHANGE subscription: which tenant a notification's SellerId is, and
-- what to delete on connection.disconnected (deleteSubscriptionById is grantless: it works
-- once the seller's refresh token is gone).
CREATE TABLE order_subscriptions (
    tenant_id        text NOT NULL,
    marketplace      text NOT NULL,
    seller_id        text NOT NULL,
    region           text NOT NULL,               -- SP-API region of the grantless calls
    subscription_id  text,                        -- NULL once deleted at Amazon
    destination_id   text NOT NULL,
    status           text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'DELETED')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, marketplace)
);
CREATE UNIQUE INDEX order_subscriptions_active_seller
    ON order_subscriptions (seller_id, marketplace) WHERE status = 'ACTIVE';

-- Notifications applied (or found stale), by Amazon's NotificationId: SQS delivers at
-- least once, so the same notification may come twice, even to two instances at once.
-- Kept 14 days, SQS's longest retention: an older duplicate cannot arrive.
CREATE TABLE order_notifications (
    notification_id   text PRIMARY KEY,
    tenant_id         text NOT NULL,
    external_order_id text NOT NULL,
    change_time       timestamptz NOT NULL,       -- TimeOfOrderChange (EventTime if null)
    outcome           text NOT NULL CHECK (outcome IN ('APPLIED', 'STALE')),
    received_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_notifications_received ON order_notifications (received_at);

-- Orders whose items, totals, buyer or packages a notification did not carry: getOrder
-- completes them, at getOrder's rate. A change arriving meanwhile moves wanted_at.
CREATE TABLE order_detail_fetches (
    tenant_id         text NOT NULL,
    marketplace       text NOT NULL,
    external_order_id text NOT NULL,
    wanted_at         timestamptz NOT NULL DEFAULT now(),
    leased_until      timestamptz,                -- an instance is fetching it until then
    attempts          integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, marketplace, external_order_id)
);
CREATE INDEX order_detail_fetches_due ON order_detail_fetches (wanted_at);
