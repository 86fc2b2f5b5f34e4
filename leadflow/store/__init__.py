"""PostgreSQL: the CRM record the activities keep in step with each lead's workflow."""
