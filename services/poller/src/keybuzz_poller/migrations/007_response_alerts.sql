-- Response alerts (docs/POLLER.md, "Response deadlines"): ticket.response_due and
-- ticket.response_overdue, each once per deadline. The row is written in the transaction
-- that emits the event (outbox): its key makes a second instance's, or a restarted one's,
-- attempt at the same alert a no-op.
CREATE TABLE poller_response_alerts (
    ticket_id  text NOT NULL REFERENCES poller_tickets (id),
    respond_by timestamptz NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('DUE', 'OVERDUE')),
    tenant_id  text NOT NULL,
    emitted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, respond_by, kind)
);

-- The tenant's lead time before a deadline for ticket.response_due (absent: 2 hours).
CREATE TABLE poller_response_alert_settings (
    tenant_id    text PRIMARY KEY,
    lead_seconds integer NOT NULL CHECK (lead_seconds BETWEEN 60 AND 86400),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The alert scan and the metric read the tickets that wait for the seller.
CREATE INDEX poller_tickets_awaiting ON poller_tickets (respond_by)
    WHERE response_state = 'AWAITING_REPLY';
