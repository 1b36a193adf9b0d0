CREATE TABLE probe_seen (
    event_id  text PRIMARY KEY,
    tenant_id text NOT NULL,
    attempt   integer NOT NULL
);
CREATE TABLE probe_archived (tenant_id text NOT NULL);
