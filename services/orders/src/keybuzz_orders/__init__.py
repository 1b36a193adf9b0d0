"""KeyBuzz orders service: backfill, refresh and serve a tenant's orders from each marketplace."""
