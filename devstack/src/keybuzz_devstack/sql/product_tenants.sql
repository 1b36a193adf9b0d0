-- The product app's tenants table (database keybuzz). The product app owns it;
-- this project creates it only for development and tests (docs/ARCHITECTURE.md, "Databases").
-- plan/status are lowercase here, uppercase on the marketplace side (seed 004).
CREATE TABLE IF NOT EXISTS tenants (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    plan       text NOT NULL,
    status     text NOT NULL,
    country    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
