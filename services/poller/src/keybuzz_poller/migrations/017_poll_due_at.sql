-- When the last completed poll was due: its lag (completed − due, claimed − due) is read
-- from the row, whichever rule then set the next one (a mailbox keeps its place in the
-- interval, a shop counts from its last poll's end).
ALTER TABLE poller_poll_status ADD COLUMN last_due_at timestamptz;
ALTER TABLE poller_shops ADD COLUMN last_due_at timestamptz;
