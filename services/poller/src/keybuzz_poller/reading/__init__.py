"""Reading a tenant's folder: the mailbox (IMAP or the demo one), relay mails parsed."""
