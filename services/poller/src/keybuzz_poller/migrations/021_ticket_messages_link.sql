-- A ticket message is a link (docs/ARCHITECTURE.md, "A message's way to a ticket"): its
-- ticket, its external message, its direction, whether it awaits a reply. Its body and
-- time are its external message's, read by a join (tickets/store.py), no longer a copy
-- stored twice. Every writer since 002 copied them from the external message it had just
-- written (a mail, a shop's message, an agent's reply: its sent mail; external_message_id
-- is NOT NULL), so for every row written by the code the copy is the original.
--
-- Nothing is lost where a row says otherwise (an edit by hand, or an external message gone
-- since migration 020 dropped the foreign key): its text and time are kept here first.
-- Where both rows exist, the ticket message's (what the API showed) goes to its external
-- message and the external message's own is kept; a ticket message without its external
-- message (never shown: every read joins it) keeps its own. Written by this migration
-- only; a shop's purge deletes its tickets' rows (tickets/store.py).
CREATE TABLE poller_unlinked_message_texts (
    ticket_message_id   text PRIMARY KEY,
    ticket_id           text NOT NULL,
    external_message_id text NOT NULL,
    body                text NOT NULL,
    received_at         timestamptz NOT NULL,
    -- 'external message replaced': the external message's, replaced by its ticket
    -- message's; 'no external message': the ticket message's own.
    kept_from           text NOT NULL,
    kept_at             timestamptz NOT NULL DEFAULT now()
);

INSERT INTO poller_unlinked_message_texts (ticket_message_id, ticket_id, external_message_id,
                                           body, received_at, kept_from)
SELECT m.id, m.ticket_id, m.external_message_id,
       coalesce(e.body, m.body), coalesce(e.received_at, m.received_at),
       CASE WHEN e.id IS NULL THEN 'no external message' ELSE 'external message replaced' END
FROM poller_ticket_messages m
LEFT JOIN poller_external_messages e ON e.id = m.external_message_id
WHERE (e.body, e.received_at) IS DISTINCT FROM (m.body, m.received_at);

UPDATE poller_external_messages e SET body = m.body, received_at = m.received_at
FROM poller_ticket_messages m
WHERE e.id = m.external_message_id
  AND (e.body, e.received_at) IS DISTINCT FROM (m.body, m.received_at);

ALTER TABLE poller_ticket_messages DROP COLUMN body, DROP COLUMN received_at;
ALTER TYPE poller_ticket_message_row DROP ATTRIBUTE body, DROP ATTRIBUTE received_at;
