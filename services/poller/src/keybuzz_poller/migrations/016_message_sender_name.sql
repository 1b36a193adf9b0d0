-- The display name of a marketplace's support staff member who wrote a message (a shop
-- API's MARKETPLACE_SUPPORT sender), shown with the ticket's messages; null otherwise.
ALTER TABLE poller_external_messages ADD COLUMN sender_name text;
