-- A marketplace thread's state as its shop's listing last gave it, shown with the ticket and
-- in the list (docs/POLLER.md, "Marketplace shops"): the facts the marketplace gives about the
-- thread (its sales channel, topic …: [{"name", "label", "value"}]) and whether the thread
-- is a claim there. Written only when the listing changes them.
ALTER TABLE poller_tickets
    ADD COLUMN thread_details jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN claim boolean NOT NULL DEFAULT false;
