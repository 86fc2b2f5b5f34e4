"""The agent's workspace: server-rendered pages at /app/ where agents work the call queue."""
