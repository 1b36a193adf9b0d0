"""KeyBuzz tenant-sync: mirror the product app's tenants, create their inbound e-mail addresses."""
