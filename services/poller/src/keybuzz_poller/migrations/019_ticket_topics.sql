-- What a ticket is about and in which language (docs/CONTRACTS.md, "Ticket topics"): the
-- marketplace's own word where it gives one (source 'marketplace'), else read from the
-- buyer's words (source 'detected', with the detector's confidence for the language).
-- Null on tickets stored before this migration. A batch's ticket rows carry them
-- (attributes added at the end, as the row struct's fields are: test_batch_row_types.py).
ALTER TABLE poller_tickets
    ADD COLUMN language text,
    ADD COLUMN language_source text,
    ADD COLUMN language_confidence double precision,
    ADD COLUMN topic text,
    ADD COLUMN topic_source text;

ALTER TYPE poller_ticket_row
    ADD ATTRIBUTE language text,
    ADD ATTRIBUTE language_source text,
    ADD ATTRIBUTE language_confidence double precision,
    ADD ATTRIBUTE topic text,
    ADD ATTRIBUTE topic_source text;

-- No index of their own: the list's filters (?language=, ?topic=) read within a tenant's
-- tickets by the list's own index, and each index more is paid on every ticket a batch writes.
