-- Where the marketplace sold an order, in its own words (an operator's sales channel:
-- its label or code). NULL where the marketplace names none.
ALTER TABLE orders ADD COLUMN sales_channel text;
