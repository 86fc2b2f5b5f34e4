"""Shipping a new version of leadflow to a Temporal cluster: the replay gate (`replay`)."""
