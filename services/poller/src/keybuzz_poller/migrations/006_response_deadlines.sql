-- Response deadlines (docs/POLLER.md, "Response deadlines"). A ticket keeps its stored
-- response state (AWAITING_REPLY, ANSWERED, NO_RESPONSE_NEEDED; OVERDUE is AWAITING_REPLY
-- past respond_by, decided when read) and its deadline, recomputed in the transaction that
-- changes what it depends on: a buyer message stored, a reply SENT or BOUNCED, a mark.

-- A buyer message that waits for an answer; false for auto-replies, reports and
-- notifications (reading/relay_mail.py, ``automatic``) and for replies.
ALTER TABLE poller_ticket_messages ADD COLUMN awaits_reply boolean NOT NULL DEFAULT false;
UPDATE poller_ticket_messages SET awaits_reply = true WHERE direction = 'INBOUND';

-- A reply sent by a rule (a template), not an agent: it does not stop the clock.
ALTER TABLE poller_replies ADD COLUMN automatic boolean NOT NULL DEFAULT false;

ALTER TABLE poller_tickets
    ADD COLUMN response_state        text NOT NULL DEFAULT 'NO_RESPONSE_NEEDED'
        CHECK (response_state IN ('AWAITING_REPLY', 'ANSWERED', 'NO_RESPONSE_NEEDED')),
    ADD COLUMN respond_by            timestamptz,
    -- An agent's "no response needed": it closes the buyer messages received until then.
    ADD COLUMN no_response_needed_at timestamptz,
    ADD COLUMN no_response_needed_by text;

-- Existing tickets, by the same rule as tickets/deadlines.py (24 h from the oldest buyer
-- message after the last reply the relay accepted).
UPDATE poller_tickets t SET response_state = 'AWAITING_REPLY',
                            respond_by = pending.oldest + interval '24 hours'
FROM (
    -- A message's clock starts when the MX accepted it, if known (least() skips a null).
    SELECT m.ticket_id, min(least(e.accepted_at, m.received_at)) AS oldest
    FROM poller_ticket_messages m
    JOIN poller_external_messages e ON e.id = m.external_message_id
    WHERE m.awaits_reply AND NOT EXISTS (
        SELECT 1 FROM poller_replies r
        WHERE r.ticket_id = m.ticket_id AND r.status = 'SENT'
          AND r.sent_at >= least(e.accepted_at, m.received_at))
    GROUP BY m.ticket_id
) pending
WHERE t.id = pending.ticket_id;
UPDATE poller_tickets t SET response_state = 'ANSWERED'
WHERE t.respond_by IS NULL
  AND EXISTS (SELECT 1 FROM poller_replies r WHERE r.ticket_id = t.id AND r.status = 'SENT');

-- The agent's queue: soonest deadline first, keyset on (respond_by, id).
CREATE INDEX poller_tickets_deadlines ON poller_tickets (tenant_id, respond_by, id)
    WHERE respond_by IS NOT NULL;
