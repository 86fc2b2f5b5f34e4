"""Alembic's migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic import command

from leadflow.store.db import alembic_config


def test_migrations_match_the_models(database_url: str) -> None:
    # Raises when autogenerate would find anything to add, drop or alter.
    command.check(alembic_config(database_url))
