"""Backfill jobs: a tenant's history of orders, page by page or by reports, resumable."""
