"""Polling: which tenant's folder is read when, by which instance (leases), and its status."""
