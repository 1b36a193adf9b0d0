-- The relay sends exactly the headers a direct publish would (Nats-Msg-Id,
-- KeyBuzz-Event-Type, trace context), captured at enqueue time while the
-- caller's trace context is current; partition_key is the tenant id, the key
-- the ordering guarantee is stated over (docs/SERVICE_FRAME.md, "Outbox").
--
-- The defaults make ADD COLUMN instant on a large table; only pending rows need
-- real values (published ones are purged after 7 days), then the defaults go so
-- that every new row must say what it sends.
ALTER TABLE event_outbox
    ADD COLUMN IF NOT EXISTS headers jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS partition_key text NOT NULL DEFAULT '';

UPDATE event_outbox
   SET headers = jsonb_build_object('Nats-Msg-Id', event_id, 'KeyBuzz-Event-Type', subject),
       partition_key = coalesce(convert_from(payload, 'UTF8')::jsonb ->> 'tenantId', '')
 WHERE published_at IS NULL;

ALTER TABLE event_outbox
    ALTER COLUMN headers DROP DEFAULT,
    ALTER COLUMN partition_key DROP DEFAULT;

-- backlog(): pending count and oldest age from the index alone (index-only scan).
CREATE INDEX IF NOT EXISTS event_outbox_pending_age
    ON event_outbox (producer, id) INCLUDE (created_at) WHERE published_at IS NULL;
DROP INDEX IF EXISTS event_outbox_pending;
