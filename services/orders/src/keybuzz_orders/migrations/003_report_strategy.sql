-- Issue 12, point 3: large histories through the orders report; point 5: the
-- indexes GET /api/v1/orders needs at 1,000,000 rows (plans in docs/BENCHMARKS.md).

-- Where a row's data comes from. 'REPORT' rows lack what the flat file does not
-- carry (buyer, full address, packages, ship-by): message.received fetches them
-- with getOrder, and any API read of the order replaces them.
ALTER TABLE orders ADD COLUMN source text NOT NULL DEFAULT 'API'
    CHECK (source IN ('API', 'REPORT'));

-- The job's strategy, decided on its first searchOrders page (NULL before it).
ALTER TABLE order_backfill_jobs
    ADD COLUMN strategy text CHECK (strategy IN ('SEARCH', 'REPORT')),
    ADD COLUMN strategy_reason text,
    -- REPORT jobs: 'REPORTS' (30-day windows by report), then 'TAIL' (searchOrders
    -- from tail_after: the last hours the reports trail behind).
    ADD COLUMN phase text CHECK (phase IN ('REPORTS', 'TAIL')),
    ADD COLUMN tail_after text,
    -- Checkpoint of each window: [{start, end, reportId, state, imported, token}].
    ADD COLUMN report_windows jsonb;

-- Search by customer: trigram indexes serve ILIKE '%…%' (pg_trgm ships with PostgreSQL).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX orders_customer_name_trgm ON orders USING gin (customer_name gin_trgm_ops);
CREATE INDEX orders_customer_email_trgm ON orders USING gin (customer_email gin_trgm_ops);
-- Search by order ref within a tenant (order id is the unique key's prefix already).
CREATE INDEX orders_tenant_ref ON orders (tenant_id, order_ref);
-- Status filter, newest first, per tenant.
CREATE INDEX orders_tenant_status_date ON orders (tenant_id, order_status, order_date DESC, id DESC);
-- Search by SKU/ASIN: items → their order.
DROP INDEX order_items_sku;
CREATE INDEX order_items_sku ON order_items (sku, order_id);
CREATE INDEX order_items_asin ON order_items (asin, order_id);
