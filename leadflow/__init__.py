"""leadflow: lead follow-up on Temporal. Every lead is a durable workflow."""

__version__ = "0.1.0"
