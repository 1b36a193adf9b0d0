-- A shop connected in another spelling of its id than its connector's canonical one
-- ("043115" for shop 43115) is rewritten to the canonical form at oauth's start-up
-- (canonical_shops.py: the rule is the connector's code, which SQL cannot call). Where the
-- canonical form is a shop another connection already holds, both are kept as they are and
-- the pair is recorded here, for an operator to settle (keybuzz.oauth.shop-id-collisions):
-- never merged, never ended by the migration.
CREATE TABLE IF NOT EXISTS shop_id_collisions (
    connection_id uuid PRIMARY KEY REFERENCES marketplace_connections (id) ON DELETE CASCADE,
    seller_id     text NOT NULL,  -- the shop id as the connection holds it (kept)
    canonical_id  text NOT NULL,  -- its connector's canonical form
    held_by       uuid NOT NULL REFERENCES marketplace_connections (id) ON DELETE CASCADE,
    found_at      timestamptz NOT NULL DEFAULT now()
);
