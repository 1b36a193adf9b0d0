-- A ticket message's arrival lag (docs/POLLER.md, "Arrival lag"): when the MX accepted the
-- mail (its X-KeyBuzz-Accepted-At stamp); null for mail that came by another path.
ALTER TABLE poller_external_messages ADD COLUMN accepted_at timestamptz;
