-- orders' tables in keybuzz_backend (DESIGN.md §6): orders (seed 002's fields),
-- their items, and backfill jobs. The orders service is their only writer.
-- Names do not collide with tenant-sync (tenants, inbound_*), oauth
-- (marketplace_connections, oauth_states) or the poller (poller_*).

-- Seed 002's enums, as PostgreSQL enum types.
CREATE TYPE order_status AS ENUM
    ('PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'RETURNED');
CREATE TYPE order_delivery_status AS ENUM
    ('PREPARING', 'SHIPPED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED', 'DELAYED', 'LOST');
CREATE TYPE order_sav_status AS ENUM ('NONE', 'OPEN', 'IN_PROGRESS', 'RESOLVED');
CREATE TYPE order_sla_status AS ENUM ('OK', 'AT_RISK', 'BREACHED');

CREATE TABLE orders (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           text NOT NULL,
    marketplace         text NOT NULL,            -- 'AMAZON'
    marketplace_id      text,                     -- Amazon's (A13V1IB3VIYZZH)
    external_order_id   text NOT NULL,            -- 3-7-7 digits
    order_ref           text NOT NULL,            -- '#' + last 6 digits (seed 003)
    -- Restricted data: NULL when Amazon withholds it (roles, status, channel).
    customer_name       text,
    customer_email      text,
    order_date          timestamptz NOT NULL,     -- Amazon's createdTime
    amazon_updated_at   timestamptz NOT NULL,     -- Amazon's lastUpdatedTime
    currency            text,                     -- NULL with total_amount (pending/cancelled)
    total_amount        numeric,
    order_status        order_status NOT NULL,
    amazon_status       text,                     -- Amazon's fulfillmentStatus as sent
    fulfillment_channel text,                     -- MERCHANT | AMAZON
    delivery_status     order_delivery_status,
    -- Owned by the helpdesk: imports never write it.
    sav_status          order_sav_status NOT NULL DEFAULT 'NONE',
    -- SLA is derived when read (now() against ship_by), so it is never stale.
    ship_by             timestamptz,
    carrier             text,
    tracking_code       text,
    shipping_address    jsonb,
    shipped_at          timestamptz,
    delivered_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_amount_has_currency CHECK (total_amount IS NULL OR currency IS NOT NULL),
    UNIQUE (tenant_id, marketplace, external_order_id)
);

-- GET /api/v1/orders: newest first, keyset on (order_date, id), per tenant.
CREATE INDEX orders_tenant_date ON orders (tenant_id, order_date DESC, id DESC);

CREATE TABLE order_items (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    external_item_id text NOT NULL,                -- Amazon's orderItemId
    sku              text,
    asin             text,
    title            text,
    quantity         integer NOT NULL CHECK (quantity >= 0),  -- 0 for cancelled items
    unit_price       numeric,
    currency         text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT order_items_price_has_currency CHECK (unit_price IS NULL OR currency IS NOT NULL),
    UNIQUE (order_id, external_item_id)
);

CREATE INDEX order_items_sku ON order_items (sku);

CREATE TABLE order_backfill_jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        text NOT NULL,
    marketplace      text NOT NULL,
    marketplace_id   text NOT NULL,
    status           text NOT NULL DEFAULT 'RUNNING'
                     CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    trigger          text NOT NULL,                -- connection.connected | http | nats
    -- The connection.connected event that started it: a redelivery starts nothing new.
    source_event_id  text UNIQUE,
    days             integer NOT NULL CHECK (days BETWEEN 1 AND 730),
    -- The window as sent to Amazon (a paginationToken request must repeat it exactly).
    created_after    text NOT NULL,
    -- Checkpoint: the next page to ask for; NULL before the first page.
    pagination_token text,
    -- Amazon's cursor from the last page (createdBefore): never the local clock.
    created_before   timestamptz,
    newest_order_at  timestamptz,                  -- progress through the window (ETA)
    pages            integer NOT NULL DEFAULT 0,
    orders           integer NOT NULL DEFAULT 0,
    created          integer NOT NULL DEFAULT 0,
    updated          integer NOT NULL DEFAULT 0,
    unchanged        integer NOT NULL DEFAULT 0,
    cancelled        integer NOT NULL DEFAULT 0,
    items            integer NOT NULL DEFAULT 0,
    errors           integer NOT NULL DEFAULT 0,
    rate_limit_waits integer NOT NULL DEFAULT 0,
    last_error       text,
    reason           text,                         -- why it FAILED / was CANCELLED
    -- Which process runs it, until when: a crashed runner's job is taken over later.
    owner            text,
    lease_until      timestamptz,
    started_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);

-- One running job per tenant: a second request gets the running one.
CREATE UNIQUE INDEX order_backfill_jobs_one_running
    ON order_backfill_jobs (tenant_id) WHERE status = 'RUNNING';
CREATE INDEX order_backfill_jobs_tenant ON order_backfill_jobs (tenant_id, started_at DESC);
