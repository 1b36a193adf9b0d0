-- "One shop, one connection" on the account the marketplace's API answered for, not on the
-- marketplace value the shop was connected under: Fnac's seller API serves Fnac's and
-- Darty's shops from one shop-id space, so one shop under FNAC for one tenant and under
-- DARTY for another (or for the same tenant: polled twice) is one account twice.
-- account_identity is what the connector's credential check returns (null for Amazon:
-- docs/OAUTH.md §9 says why its sellers have no such rule).
ALTER TABLE marketplace_connections ADD COLUMN IF NOT EXISTS account_identity text;
-- Set on a connection this migration ended because another held its shop first; the
-- service then deletes its key from Vault and says connection.disconnected with
-- receivedInError (what came through it is deleted), and clears the flag.
ALTER TABLE marketplace_connections
    ADD COLUMN IF NOT EXISTS ended_as_duplicate boolean NOT NULL DEFAULT false;

-- The rows connected before this migration: the same form as FnacCredentialCheck's
-- shop_identity().
UPDATE marketplace_connections
   SET account_identity = 'fnac-seller-api:' || upper(btrim(seller_id))
 WHERE marketplace_type IN ('FNAC', 'DARTY') AND seller_id IS NOT NULL
   AND account_identity IS NULL;

-- Shops already held twice: the first connected keeps the shop, the later ones end as
-- refused (never a failed migration).
WITH ranked AS (
    SELECT id, row_number() OVER (
               PARTITION BY account_identity
               ORDER BY connected_at NULLS LAST, created_at, id) AS rank
      FROM marketplace_connections
     WHERE account_identity IS NOT NULL AND status IN ('CONNECTED', 'REAUTH_REQUIRED')
)
UPDATE marketplace_connections mc
   SET status = 'ERROR', ended_as_duplicate = true, disconnected_at = now(), updated_at = now(),
       last_error = 'refused: this shop is connected to another KeyBuzz connection; '
                    'disconnect it there first'
  FROM ranked
 WHERE mc.id = ranked.id AND ranked.rank > 1;

CREATE UNIQUE INDEX IF NOT EXISTS marketplace_connections_one_connection_per_account
    ON marketplace_connections (account_identity)
    WHERE account_identity IS NOT NULL AND status IN ('CONNECTED', 'REAUTH_REQUIRED');
CREATE INDEX IF NOT EXISTS marketplace_connections_ended_as_duplicate
    ON marketplace_connections (id) WHERE ended_as_duplicate;
