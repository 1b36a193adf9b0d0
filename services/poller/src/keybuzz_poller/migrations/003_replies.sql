-- Replies from a ticket (docs/POLLER.md, "Replies"). An agent's reply is a ticket message
-- with direction OUTBOUND; its mail is an external message like a buyer's (raw = the exact
-- bytes sent on every attempt), so a ticket's messages stay one ordered list.

-- The tenant's approved sender address (Seller Central's registered address or an
-- approved sender): the header From of every reply.
CREATE TABLE poller_reply_settings (
    tenant_id          text PRIMARY KEY,
    reply_from_address text NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The work of sending a reply, written in the same transaction as its ticket message.
CREATE TABLE poller_replies (
    ticket_message_id   text PRIMARY KEY REFERENCES poller_ticket_messages (id),
    tenant_id           text NOT NULL,
    ticket_id           text NOT NULL REFERENCES poller_tickets (id),
    external_message_id text NOT NULL REFERENCES poller_external_messages (id),
    -- RFC 5322 Message-ID, deterministic: <reply-<ticket_message_id>@<INBOUND_DOMAIN>>.
    message_id          text NOT NULL,
    order_id            text,
    envelope_sender     text NOT NULL,  -- the tenant's inbound address: bounces come back there
    recipient           text NOT NULL,  -- the buyer's alias
    status              text NOT NULL DEFAULT 'QUEUED'
                        CHECK (status IN ('QUEUED', 'SENT', 'FAILED', 'BOUNCED')),
    -- Attempts started (counted when claimed: a crash mid-send counts too).
    attempts            integer NOT NULL DEFAULT 0,
    -- When a sender may take it next. Claiming pushes it one lease ahead, so a crashed
    -- sender's reply is taken again once the lease has passed; the schedule survives restarts.
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_error          text,             -- the last temporary failure (4xx, relay down)
    reason              text,             -- FAILED: the relay's reply; BOUNCED: Amazon's reason
    status_code         text,             -- SMTP code (FAILED) or DSN status (BOUNCED)
    bounce_external_message_id text REFERENCES poller_external_messages (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, message_id)
);
CREATE INDEX poller_replies_due ON poller_replies (next_attempt_at) WHERE status = 'QUEUED';
CREATE INDEX poller_replies_ticket ON poller_replies (ticket_id);
