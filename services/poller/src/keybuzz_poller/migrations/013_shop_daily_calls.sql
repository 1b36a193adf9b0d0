-- The listing calls each shop spent per UTC day, for a marketplace that allows a shop
-- account so many a day (docs/POLLER.md, "Daily allowance"): counted before each call is
-- made, so a restart, another instance or a crash mid-poll never lets a day spend more.
CREATE TABLE poller_shop_calls (
    poll_key text NOT NULL,     -- poller_shops.poll_key
    day      date NOT NULL,     -- UTC
    calls    integer NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (poll_key, day)
);
