-- Orders v0 as the fallback strategy of a backfill (Orders 2026-01-01 refused).
ALTER TABLE order_backfill_jobs DROP CONSTRAINT IF EXISTS order_backfill_jobs_strategy_check;
ALTER TABLE order_backfill_jobs
    ADD CONSTRAINT order_backfill_jobs_strategy_check
    CHECK (strategy IN ('SEARCH', 'REPORT', 'ORDERS_V0'));
