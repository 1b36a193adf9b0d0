-- Push on delivery (docs/POLLER.md, "Push on delivery"): the MX marks a tenant due the moment
-- Dovecot has stored a mail for it. claimed_at tells whether a delivery came during a poll
-- (the poll may have missed it: the tenant is due again at once); pushed_at, the oldest
-- delivery no poll has served yet, is where keybuzz_poller_mail_to_ticket_seconds starts.
ALTER TABLE poller_poll_status
    ADD COLUMN claimed_at     timestamptz,
    ADD COLUMN pushed_at      timestamptz,
    ADD COLUMN last_pushed_at timestamptz;
