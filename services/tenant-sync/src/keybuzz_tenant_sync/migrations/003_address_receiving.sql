-- When the poller's MX first accepted mail for the address (its event
-- tenant.inbound_address.receiving): an address is shown ready (`receiving`) only from
-- then on, so nobody gives a marketplace an address the MX would refuse with 550.
-- Archiving clears it: once un-archived, the address waits for the poller again.
-- Addresses made before this column were in the poller's projection long since.
ALTER TABLE inbound_addresses ADD COLUMN receiving_at timestamptz;
UPDATE inbound_addresses SET receiving_at = created_at WHERE status <> 'DISABLED';
