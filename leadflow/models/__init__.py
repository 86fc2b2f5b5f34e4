"""Shared data: the messages between API, client, workflow and activities (pydantic)."""
