-- One running backfill job per tenant and marketplace: a tenant's Amazon and Fnac
-- (or Darty) imports run side by side; a second request for the same marketplace
-- gets the running one.
DROP INDEX order_backfill_jobs_one_running;
CREATE UNIQUE INDEX order_backfill_jobs_one_running
    ON order_backfill_jobs (tenant_id, marketplace) WHERE status = 'RUNNING';
