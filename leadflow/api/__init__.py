"""HTTP API: REST for backend services and ISAs, and provider webhooks."""
