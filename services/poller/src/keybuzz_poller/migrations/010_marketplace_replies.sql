-- Replies sent through a marketplace's API (Fnac, Darty) share poller_replies with mail
-- replies (docs/POLLER.md, "Replies through a marketplace's API"). For them the external
-- message's raw is the request sent on every attempt (JSON), envelope_sender is '' (no
-- mail, no bounce) and recipient is BUYER or MARKETPLACE_SUPPORT.

-- Set when an attempt is claimed, cleared when the attempt's outcome shows nothing was
-- sent: while it is set, the attempt may have reached the marketplace (its answer was
-- lost, or the sender died before recording it), and the next attempt reads the thread
-- back before sending anything.
ALTER TABLE poller_replies ADD COLUMN unconfirmed boolean NOT NULL DEFAULT false;
