-- Marketplace connections: one row per tenant and marketplace type. The
-- credentials themselves live in Vault; only their path is kept here.
CREATE TABLE IF NOT EXISTS marketplace_connections (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        text NOT NULL,
    marketplace_type text NOT NULL,
    status           text NOT NULL CHECK (status IN
                         ('PENDING', 'CONNECTED', 'REAUTH_REQUIRED', 'DISCONNECTED', 'ERROR')),
    seller_id        text,
    marketplace_ids  text[] NOT NULL DEFAULT '{}',
    region           text,
    vault_path       text,
    connected_by     text,
    connected_at     timestamptz,
    disconnected_at  timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, marketplace_type)
);

-- OAuth states: only a SHA-256 of the state is stored, so a database dump
-- cannot be replayed against the callback. Single use (used_at), 15-minute TTL.
CREATE TABLE IF NOT EXISTS oauth_states (
    state_hash       text PRIMARY KEY,
    tenant_id        text NOT NULL,
    user_id          text NOT NULL,
    marketplace_type text NOT NULL,
    marketplace_code text NOT NULL,
    redirect_uri     text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz
);

CREATE INDEX IF NOT EXISTS oauth_states_expires ON oauth_states (expires_at);
