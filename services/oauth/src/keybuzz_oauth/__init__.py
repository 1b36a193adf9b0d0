"""KeyBuzz oauth service: connect a seller's Amazon account (Login with Amazon) and keep its credentials in Vault."""
