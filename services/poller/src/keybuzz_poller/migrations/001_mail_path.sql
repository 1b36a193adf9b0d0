-- The poller's mail path (docs/POLLER.md). Every service shares keybuzz_backend
-- and tenant-sync owns `tenants` / `inbound_addresses`, hence the prefix.

-- The poller's own projection of tenants, from tenant.synced / tenant.archived
-- (it never reads another service's tables).
CREATE TABLE poller_tenants (
    tenant_id  text PRIMARY KEY,
    archived   boolean NOT NULL,
    -- occurredAt of the newest event applied: an older (redelivered, overtaken)
    -- event never undoes a newer one.
    as_of      timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The inbound addresses the MX accepts mail for (enabled = not DISABLED at tenant-sync).
CREATE TABLE poller_inbound_addresses (
    email       text PRIMARY KEY CHECK (email = lower(email)),
    tenant_id   text NOT NULL REFERENCES poller_tenants (tenant_id),
    marketplace text NOT NULL,
    country     text NOT NULL,
    enabled     boolean NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX poller_inbound_addresses_tenant ON poller_inbound_addresses (tenant_id);

-- How far each tenant's folder has been read: IMAP UIDs only mean something
-- together with the folder's UIDVALIDITY.
CREATE TABLE poller_mail_cursors (
    tenant_id    text PRIMARY KEY,
    folder       text NOT NULL,
    uid_validity bigint NOT NULL,
    last_uid     bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
