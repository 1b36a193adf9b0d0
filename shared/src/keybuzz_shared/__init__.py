"""Code every KeyBuzz marketplace service shares: settings, events, NATS, database, Vault, HTTP, auth."""
