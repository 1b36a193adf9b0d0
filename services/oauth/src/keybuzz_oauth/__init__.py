"""KeyBuzz oauth service.

Connects a seller's marketplace account (a consent on the marketplace's site, or the shop
credentials the seller types) and keeps its credentials in Vault.
"""
