-- Issue 12, point 5: GET /api/v1/orders?q= at 1,000,000 orders (plans and figures
-- in docs/BENCHMARKS.md). The e-mail is searched by its beginning, case-insensitive,
-- within the tenant (store.list_orders_query): a btree range scan. The trigram
-- index on the whole address made every query with digits (an order id, a SKU)
-- recheck thousands of addresses of every tenant.
DROP INDEX IF EXISTS orders_customer_email_trgm;
CREATE INDEX orders_tenant_email_prefix
    ON orders (tenant_id, lower(customer_email) text_pattern_ops);
