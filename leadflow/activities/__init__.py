"""Activities: everything with I/O (PostgreSQL, Twilio, SendGrid)."""
