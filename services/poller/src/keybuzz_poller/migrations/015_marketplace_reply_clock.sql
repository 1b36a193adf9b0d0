-- The marketplace's own clock on a ticket's thread, for a marketplace that keeps one
-- (docs/POLLER.md, "Response deadlines"): whether its shop's listing gave it, and since when
-- the thread waits for the seller's reply there (null: it counts no reply as needed). The
-- ticket's deadline starts and ends on it. Written only when a listing changes it.
ALTER TABLE poller_tickets
    ADD COLUMN marketplace_clock boolean NOT NULL DEFAULT false,
    ADD COLUMN reply_needed_since timestamptz;
