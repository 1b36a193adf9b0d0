-- Issue 12, point 5: a search by customer name costs the same at any table size.
-- The trigram index matched "%Léa Martin%" by reading every order whose name held
-- those letters, or the tenant's orders newest first until 51 matched: 5-10 ms for a
-- name one buyer in 80 has, which 200 requests/s cannot sustain (docs/BENCHMARKS.md).
-- Instead every word of a name is a row of `order_name_words`, in the order the list
-- is read: the orders of one word, newest first, are the first rows of an index
-- range, and the name's other words ride along in the index (`name_key`), so a
-- two-word search reads index entries only until `limit` orders match.
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Lower case, accents removed ("Müller" → "muller"), split on blanks and ASCII
-- punctuation ("Martin-Dupont" → martin, dupont). IMMUTABLE with the dictionary
-- named, as unaccent's documentation advises for a function used in indexes.
-- Words past 64 characters are no words: an index entry has a size limit, and a
-- name Amazon sends, however odd, must never fail the order's write.
CREATE FUNCTION name_search_words(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT w ORDER BY w), '{}')
    FROM regexp_split_to_table(lower(public.unaccent('public.unaccent', name)),
                               '[[:space:][:punct:]]+') AS w
    WHERE w <> '' AND length(w) <= 64
$$;

CREATE TABLE order_name_words (
    tenant_id  text        NOT NULL,
    word       text        NOT NULL,
    order_date timestamptz NOT NULL,
    order_id   uuid        NOT NULL,
    -- ' lea martin ': every word of the name, to check a search's other words.
    name_key   text        NOT NULL,
    PRIMARY KEY (tenant_id, word, order_date, order_id) INCLUDE (name_key)
);

-- The rows of one order: the same for the trigger and for a bulk load.
CREATE FUNCTION name_search_entries(tenant_id text, customer_name text,
                                    order_date timestamptz, order_id uuid)
RETURNS TABLE (tenant_id text, word text, order_date timestamptz, order_id uuid,
               name_key text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- The key is cut at 400 characters (an index entry stays under its size limit);
    -- a word only past that cut is found as the walked word, not as another one.
    SELECT $1, w, $3, $4, left(' ' || array_to_string(n.words, ' ') || ' ', 400)
    FROM (SELECT name_search_words($2) AS words) AS n, unnest(n.words) AS w
$$;

-- Kept by the database itself, whichever statement writes the order.
CREATE FUNCTION orders_sync_name_words() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN  -- the old rows, found by their key (no other index)
        DELETE FROM order_name_words
        WHERE tenant_id = OLD.tenant_id AND word = ANY (name_search_words(OLD.customer_name))
          AND order_date = OLD.order_date AND order_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.customer_name IS NOT NULL THEN
        INSERT INTO order_name_words
        SELECT * FROM name_search_entries(NEW.tenant_id, NEW.customer_name,
                                          NEW.order_date, NEW.id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER orders_name_words_insert AFTER INSERT ON orders
    FOR EACH ROW WHEN (NEW.customer_name IS NOT NULL)
    EXECUTE FUNCTION orders_sync_name_words();
CREATE TRIGGER orders_name_words_update AFTER UPDATE OF customer_name, order_date ON orders
    FOR EACH ROW WHEN (OLD.customer_name IS DISTINCT FROM NEW.customer_name
                       OR OLD.order_date IS DISTINCT FROM NEW.order_date)
    EXECUTE FUNCTION orders_sync_name_words();
CREATE TRIGGER orders_name_words_delete AFTER DELETE ON orders
    FOR EACH ROW WHEN (OLD.customer_name IS NOT NULL)
    EXECUTE FUNCTION orders_sync_name_words();

INSERT INTO order_name_words
SELECT e.* FROM orders o,
     name_search_entries(o.tenant_id, o.customer_name, o.order_date, o.id) AS e
WHERE o.customer_name IS NOT NULL;

DROP INDEX IF EXISTS orders_customer_name_trgm;
ANALYZE order_name_words;
