-- A ticket message's ticket and external message are kept by the statements that write
-- and delete them, not by foreign keys: each key's check is a query and a row lock a
-- message stored, ~7 µs of PostgreSQL's ~75 a mail in bench_poller (docs/BENCHMARKS.md).
-- The writers (tickets/store.py) store a message only with its ticket locked by the same
-- transaction and its external message written by it; the shop purge
-- (polling/shops_store.py) takes, after deleting the tickets, the messages a poll
-- committed on them while it waited (services/poller/tests/test_ticket_message_parents.py).
ALTER TABLE poller_ticket_messages
    DROP CONSTRAINT poller_ticket_messages_ticket_id_fkey,
    DROP CONSTRAINT poller_ticket_messages_external_message_id_fkey;
