"""Mail: the transport (SMTP or the outbox folder) and the outbox of emails owed."""
