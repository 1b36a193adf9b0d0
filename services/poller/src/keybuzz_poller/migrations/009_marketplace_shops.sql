-- Shops polled over a marketplace's API (docs/POLLER.md, "Marketplace shops"): Fnac and Darty.
-- A shop is a tenant's connection to one such marketplace (one per tenant and marketplace,
-- as its key in Vault is). Its row is its schedule, with the same columns and leases as
-- poller_poll_status (polling/store.py serves both), its connection state and its cursors.
CREATE TABLE poller_shops (
    poll_key             text PRIMARY KEY,  -- <marketplace>:<tenant_id>, what the scheduler leases
    tenant_id            text NOT NULL,
    marketplace          text NOT NULL,
    seller_id            text NOT NULL,     -- the shop's id at the marketplace
    -- CONNECTED is polled; DISCONNECTED (connection.disconnected) and REAUTH_REQUIRED (the
    -- marketplace refused the shop's key) are not, until connection.connected again.
    connection           text NOT NULL
                         CHECK (connection IN ('CONNECTED', 'DISCONNECTED', 'REAUTH_REQUIRED')),
    connection_as_of     timestamptz NOT NULL,  -- occurredAt of the event that set it
    -- created_at of the newest message, updated_at of the newest incident stored.
    messages_since       timestamptz,
    incidents_since      timestamptz,
    next_poll_at         timestamptz NOT NULL,
    lease_owner          text,
    lease_expires_at     timestamptz,
    claimed_at           timestamptz,
    pushed_at            timestamptz,
    last_pushed_at       timestamptz,
    last_poll_at         timestamptz,
    last_success_at      timestamptz,
    last_error           text,
    last_error_at        timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    messages_fetched     bigint NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, marketplace)
);
CREATE INDEX poller_shops_due ON poller_shops (next_poll_at);

-- Who wrote a marketplace message: BUYER, MARKETPLACE_SUPPORT (its customer service), SELLER
-- (in the marketplace's back office) or SYSTEM; null for mail.
ALTER TABLE poller_external_messages
    ADD COLUMN sender_type text,
    -- Stored, not yet marked read at the marketplace (FNAC_MARK_AS_READ): every poll tries.
    ADD COLUMN mark_read_pending boolean NOT NULL DEFAULT false;
CREATE INDEX poller_external_messages_mark_read ON poller_external_messages (tenant_id, marketplace)
    WHERE mark_read_pending;

-- The files a marketplace message links, downloaded when the message is stored (up to the
-- size cap: a larger one keeps its name and why it was skipped, no content).
CREATE TABLE poller_message_attachments (
    external_message_id text NOT NULL REFERENCES poller_external_messages (id),
    position            integer NOT NULL,
    filename            text NOT NULL,
    content_type        text NOT NULL,
    size                bigint,
    content             bytea,
    skipped             text,
    PRIMARY KEY (external_message_id, position)
);

-- A marketplace's incident (Fnac's claim) on an order, as last seen; it flags its order's ticket.
CREATE TABLE poller_incidents (
    tenant_id     text NOT NULL,
    marketplace   text NOT NULL,
    incident_id   text NOT NULL,
    order_id      text NOT NULL,
    status        text NOT NULL,
    types         text[] NOT NULL,
    waiting_for_seller boolean NOT NULL,
    opened_by     text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    ticket_id     text NOT NULL REFERENCES poller_tickets (id),
    PRIMARY KEY (tenant_id, marketplace, incident_id)
);
CREATE INDEX poller_incidents_order ON poller_incidents (tenant_id, marketplace, order_id);

-- The latest incident of a ticket's order, shown with the ticket and in the list.
ALTER TABLE poller_tickets
    ADD COLUMN incident_status text,
    ADD COLUMN incident_types  text[];
CREATE INDEX poller_tickets_marketplace ON poller_tickets (tenant_id, marketplace, last_message_at DESC, id DESC);
