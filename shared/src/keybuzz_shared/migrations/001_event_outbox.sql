-- Transactional outbox: a service writes its state change and the event in one
-- transaction; the relay publishes to JetStream afterwards (Nats-Msg-Id =
-- event_id, so a re-publish after a crash is de-duplicated by the stream).
-- Each service writes and relays only its own rows (producer = service name).
CREATE TABLE IF NOT EXISTS event_outbox (
    id           bigserial PRIMARY KEY,
    producer     text NOT NULL,
    event_id     text NOT NULL UNIQUE,
    subject      text NOT NULL,
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);

CREATE INDEX IF NOT EXISTS event_outbox_pending
    ON event_outbox (producer, id) WHERE published_at IS NULL;
