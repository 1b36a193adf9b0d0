-- A line's state in its marketplace's own word (Fnac's ToAccept, Shipped, Refunded…):
-- a Fnac order's lines move on their own. NULL for Amazon's items (none is given).
ALTER TABLE order_items ADD COLUMN marketplace_state text;
