-- The rows a poll's batch writes, as composite types: a batch goes to PostgreSQL as one
-- array of records (tickets/store.py), which asyncpg encodes field by field, where a
-- column of arrays costs two isinstance checks against collections.abc per element
-- (docs/BENCHMARKS.md, bench_poller). Each type's fields are its row struct's
-- (tickets/ports.py), in the same order: services/poller/tests/test_batch_row_types.py.
CREATE TYPE poller_external_message_row AS (
    id              text,
    tenant_id       text,
    marketplace     text,
    external_id     text,
    order_id        text,
    buyer_email     text,
    buyer_name      text,
    subject         text,
    body            text,
    quoted          text,
    attachments     text,  -- JSON text, cast to jsonb on insert
    inbound_address text,
    country         text,
    sent_at         timestamptz,
    received_at     timestamptz,
    raw             bytea,
    parse_error     text,
    accepted_at     timestamptz
);

CREATE TYPE poller_ticket_row AS (
    id              text,
    tenant_id       text,
    marketplace     text,
    thread_key      text,
    order_id        text,
    buyer_email     text,
    buyer_name      text,
    subject         text,
    last_message_at timestamptz,
    message_count   integer,
    response_state  text,
    respond_by      timestamptz
);

CREATE TYPE poller_ticket_message_row AS (
    id                  text,
    ticket_id           text,
    tenant_id           text,
    external_message_id text,
    body                text,
    received_at         timestamptz,
    awaits_reply        boolean
);
