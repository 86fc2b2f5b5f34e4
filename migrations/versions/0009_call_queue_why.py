"""call queue: why a call is not due at once

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 16:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call_queue", sa.Column("why", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("call_queue", "why")
