"""KeyBuzz tenant-sync service: mirror the product app's tenants and create their inbound e-mail addresses."""
