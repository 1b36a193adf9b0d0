"""KeyBuzz orders service: backfill, refresh and serve a tenant's Amazon orders."""
