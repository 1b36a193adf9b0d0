-- A Fnac or Darty shop is linked to one tenant at most. The credential connect checks it
-- under the shop's advisory lock and answers 409; this index is the database's own guarantee.
-- (Amazon sellers have no such index: docs/OAUTH.md §9 says why.)
CREATE UNIQUE INDEX IF NOT EXISTS marketplace_connections_one_tenant_per_shop
    ON marketplace_connections (marketplace_type, seller_id)
    WHERE marketplace_type <> 'AMAZON' AND status IN ('CONNECTED', 'REAUTH_REQUIRED');
