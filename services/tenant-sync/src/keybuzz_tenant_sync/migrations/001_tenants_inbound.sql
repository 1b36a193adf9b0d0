-- tenant-sync's tables in keybuzz_backend (DESIGN.md §6): the marketplace copy of
-- the product's tenants and their inbound e-mail connections/addresses.
-- tenant-sync is their only writer; the poller reads them (it filters on
-- tenants.status <> 'ARCHIVED' and inbound_addresses.status <> 'DISABLED').

CREATE TABLE tenants (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    plan          text NOT NULL CHECK (plan IN ('FREE', 'STARTER', 'PRO', 'ENTERPRISE')),
    status        text NOT NULL CHECK (status IN ('ACTIVE', 'TRIAL', 'SUSPENDED', 'ARCHIVED')),
    -- occurredAt of the newest event applied (or the product row's updated_at for
    -- a sync from the product database): an older event never overwrites newer data.
    last_event_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One inbound (e-mail) channel per tenant and marketplace; DISABLED while the
-- tenant is archived.
CREATE TABLE inbound_connections (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   text NOT NULL REFERENCES tenants (id),
    marketplace text NOT NULL,
    status      text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'DISABLED')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, marketplace)
);

-- amazon.<tenantId>.<country>.<token>@<INBOUND_DOMAIN>; PENDING until the first
-- buyer mail arrives (message.received), DISABLED while the tenant is archived.
-- activated_at survives archiving so that un-archiving restores ACTIVE.
CREATE TABLE inbound_addresses (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    connection_id uuid NOT NULL REFERENCES inbound_connections (id),
    tenant_id     text NOT NULL REFERENCES tenants (id),
    marketplace   text NOT NULL,
    country       text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    token         text NOT NULL,
    email         text NOT NULL UNIQUE CHECK (email = lower(email)),
    status        text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'ACTIVE', 'DISABLED')),
    activated_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, marketplace, country)
);
