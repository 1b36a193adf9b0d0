-- Tickets and scheduling (docs/POLLER.md). Unique keys make every write idempotent:
-- a mail read twice (redelivery, a crash before the cursor moved, a re-read folder)
-- is recognised by (tenant, marketplace, external id) and stored once.

-- Every mail read, as received: raw bytes always kept, even when it could not be parsed.
CREATE TABLE poller_external_messages (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL,
    marketplace     text NOT NULL,
    -- Message-ID, or sha256:<digest of the mail> when it has none (relay_mail.external_id).
    external_id     text NOT NULL,
    order_id        text,
    buyer_email     text,
    buyer_name      text,
    subject         text NOT NULL,
    body            text NOT NULL,
    quoted          text NOT NULL,
    attachments     jsonb NOT NULL,  -- filename, content type, size (contents stay in the mail)
    inbound_address text,
    country         text,
    sent_at         timestamptz,
    received_at     timestamptz NOT NULL DEFAULT now(),
    raw             bytea NOT NULL,
    parse_error     text,
    UNIQUE (tenant_id, marketplace, external_id)
);

CREATE TABLE poller_tickets (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL,
    marketplace     text NOT NULL,
    -- order id + buyer address: a buyer's follow-up on an order joins its ticket.
    -- A mail without either gets a ticket of its own (its external id).
    thread_key      text NOT NULL,
    order_id        text,
    buyer_email     text,
    buyer_name      text,
    subject         text NOT NULL,
    status          text NOT NULL DEFAULT 'OPEN',
    message_count   integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_message_at timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, marketplace, thread_key)
);
-- GET /api/v1/tickets: newest activity first, keyset on (last_message_at, id).
CREATE INDEX poller_tickets_listing ON poller_tickets (tenant_id, last_message_at DESC, id DESC);

CREATE TABLE poller_ticket_messages (
    id                  text PRIMARY KEY,
    ticket_id           text NOT NULL REFERENCES poller_tickets (id),
    tenant_id           text NOT NULL,
    external_message_id text NOT NULL UNIQUE REFERENCES poller_external_messages (id),
    direction           text NOT NULL DEFAULT 'INBOUND',
    body                text NOT NULL,
    received_at         timestamptz NOT NULL,
    seq                 bigserial NOT NULL  -- stable order of a ticket's messages
);
CREATE INDEX poller_ticket_messages_ticket ON poller_ticket_messages (ticket_id, seq);

-- One row per tenant to poll: its schedule, its lease, and what the last polls did.
-- Instances claim due rows with FOR UPDATE SKIP LOCKED and hold them until
-- lease_expires_at: a dead instance's tenants are free again once it passes.
CREATE TABLE poller_poll_status (
    tenant_id            text PRIMARY KEY,
    next_poll_at         timestamptz NOT NULL,
    lease_owner          text,
    lease_expires_at     timestamptz,
    last_poll_at         timestamptz,
    last_success_at      timestamptz,
    last_error           text,
    last_error_at        timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    messages_fetched     bigint NOT NULL DEFAULT 0
);
CREATE INDEX poller_poll_status_due ON poller_poll_status (next_poll_at);

-- Folders in the mailbox that belong to no known tenant: kept (never deleted) and counted.
CREATE TABLE poller_quarantine (
    folder     text PRIMARY KEY,
    messages   integer NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
