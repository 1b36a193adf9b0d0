-- A reply through a marketplace's API comes back when the shop is polled, as a message from
-- the seller that the marketplace lists with its own id (its answer to the reply gave none).
-- That id, once the poll matched the message to the reply (docs/POLLER.md, "Replies through
-- a marketplace's API"): the message is the reply, not a second message on the ticket, and
-- each reply is matched once.
ALTER TABLE poller_replies ADD COLUMN marketplace_message_id text;
