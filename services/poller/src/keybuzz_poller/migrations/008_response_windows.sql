-- A tenant's response window for a marketplace without a rule of its own (docs/POLLER.md,
-- "Response deadlines"). Amazon's 24 hours is Amazon's metric: never overridden.
CREATE TABLE poller_response_windows (
    tenant_id   text NOT NULL,
    marketplace text NOT NULL CHECK (marketplace <> 'AMAZON'),
    hours       integer NOT NULL CHECK (hours BETWEEN 1 AND 720),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, marketplace)
);
