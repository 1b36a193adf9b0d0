-- Every marketplace's orders share these columns: the time of the order's last change
-- at its marketplace, and the marketplace's own word for its state.
ALTER TABLE orders RENAME COLUMN amazon_updated_at TO marketplace_updated_at;
ALTER TABLE orders RENAME COLUMN amazon_status TO marketplace_status;
