-- Every message a ticket shows is written by tickets/store.py from these rows: a shop's
-- message (its sender, whether it waits to be marked read at the marketplace) and an
-- agent's reply (OUTBOUND) as well as a relayed mail. Attributes are added at the end, as
-- the row structs' fields are (services/poller/tests/test_batch_row_types.py).
ALTER TYPE poller_external_message_row
    ADD ATTRIBUTE sender_type text,
    ADD ATTRIBUTE sender_name text,
    ADD ATTRIBUTE mark_read_pending boolean;

ALTER TYPE poller_ticket_message_row ADD ATTRIBUTE direction text;
