-- Bind each OAuth state to the browser that started the flow (docs/OAUTH.md §9):
-- only a SHA-256 of the browser's nonce cookie is kept, like the state itself.
-- States issued before this migration have no binding and are refused at the
-- callback (they live 15 minutes).
ALTER TABLE oauth_states ADD COLUMN IF NOT EXISTS browser_hash text;
-- The start request asked to take the seller over from another tenant.
ALTER TABLE oauth_states ADD COLUMN IF NOT EXISTS takeover boolean NOT NULL DEFAULT false;

-- "Which tenant holds this seller?" is asked at every callback.
CREATE INDEX IF NOT EXISTS marketplace_connections_seller
    ON marketplace_connections (marketplace_type, seller_id)
    WHERE status IN ('CONNECTED', 'REAUTH_REQUIRED');
