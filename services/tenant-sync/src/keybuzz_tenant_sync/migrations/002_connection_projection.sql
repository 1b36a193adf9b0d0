-- tenant-sync's own projection of the oauth service's connection.* events
-- (docs/TENANT_SYNC.md, "Marketplace connections"): what the status endpoint
-- shows. tenant-sync never reads oauth's marketplace_connections; every service
-- shares keybuzz_backend, hence the prefix.
--
-- Two facts per tenant and marketplace, each kept from its newest event only
-- (an event that is not newer — redelivered, or overtaken by one of another
-- subject — changes nothing):
--   * the connection's life, from connection.connected / connection.disconnected
--     (status ... as_of; NULL while only a refusal has been seen);
--   * the newest refusal of its refresh token, from connection.reauth_required
--     (refused_*): it makes a connection made before it REAUTH_REQUIRED.

CREATE TABLE tenant_sync_connections (
    tenant_id         text NOT NULL,
    marketplace       text NOT NULL,
    status            text CHECK (status IN ('CONNECTED', 'DISCONNECTED')),
    connection_id     text,
    seller_id         text,
    -- Kept by a disconnection, replaced by the next connection.
    marketplace_ids   text[] NOT NULL DEFAULT '{}',
    region            text,
    connected_at      timestamptz,
    -- Why the connection ended (connection.disconnected's reason).
    reason            text,
    -- occurredAt of the newest connected/disconnected event applied.
    as_of             timestamptz,
    refused_at        timestamptz,
    refused_seller_id text,
    refused_reason    text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, marketplace)
);
