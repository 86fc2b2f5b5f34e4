"""How backend services and people reach leadflow: the Python client and the CLI."""
