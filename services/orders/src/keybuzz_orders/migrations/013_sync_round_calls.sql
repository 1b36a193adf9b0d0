-- The calls a shop's last sync round made, counted as they were sent (each attempt of each
-- call, keybuzz_shared.spent_calls): a marketplace with an application call budget puts the
-- shop's next round off by what this one spent beyond a round's declared share.
ALTER TABLE order_sync_cursors ADD COLUMN last_round_calls integer NOT NULL DEFAULT 0;
