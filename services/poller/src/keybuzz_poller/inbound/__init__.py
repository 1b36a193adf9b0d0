"""Mail arriving: the MX (SMTP in, LMTP to Dovecot) and the tenants' inbound addresses."""
