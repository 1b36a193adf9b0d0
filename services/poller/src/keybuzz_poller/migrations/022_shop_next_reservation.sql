-- The calls of its daily allowance a shop's next poll reserves, as its last poll's end asked
-- them (docs/POLLER.md, "Daily allowance"): the claim that leases the shop reserves them in
-- poller_shop_calls, all or none within calls_limit (the day's pace when they were asked),
-- on their day only. The poll then starts with no statement of its own.
CREATE TABLE poller_shop_reservations (
    poll_key    text PRIMARY KEY,   -- poller_shops.poll_key
    day         date NOT NULL,      -- UTC
    calls       integer NOT NULL CHECK (calls > 0),
    calls_limit integer NOT NULL
);
