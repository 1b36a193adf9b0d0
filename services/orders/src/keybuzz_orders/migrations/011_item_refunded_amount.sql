-- What the marketplace refunded on an order line (a Mirakl line's refunds): a partial
-- refund leaves the line's state as it was. NULL where the marketplace names no refund.
ALTER TABLE order_items ADD COLUMN refunded_amount numeric;
