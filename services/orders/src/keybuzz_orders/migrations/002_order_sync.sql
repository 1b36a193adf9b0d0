-- Incremental sync (every ORDERS_SYNC_INTERVAL_SECONDS): per tenant, Amazon's own
-- cursor. Set when a backfill completes (its createdBefore: orders created before it
-- were listed as they stood then), moved to each sync's lastUpdatedBefore.
CREATE TABLE order_sync_cursors (
    tenant_id           text NOT NULL,
    marketplace         text NOT NULL,
    marketplace_id      text NOT NULL,
    last_updated_before timestamptz NOT NULL,   -- Amazon's cursor, never our clock
    status              text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'STOPPED')),
    last_run_at         timestamptz,            -- also the claim: one instance per round
    last_error          text,
    runs                integer NOT NULL DEFAULT 0,
    orders_seen         bigint NOT NULL DEFAULT 0,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, marketplace)
);
