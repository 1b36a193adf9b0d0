"""KeyBuzz oauth service.

Connects a seller's Amazon account (Login with Amazon) and keeps its credentials in Vault.
"""
