-- A poll's batch goes to PostgreSQL as one array of a built-in type per column
-- (tickets/store.py, its rows' structs in tickets/ports.py): the composite row types of
-- migration 014 made asyncpg look each type up on every connection new to the statement.
DROP TYPE poller_external_message_row, poller_ticket_row, poller_ticket_message_row;
