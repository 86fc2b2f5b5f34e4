"""text_counts: texts each account sent per hour, for its daily limit

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "text_counts",
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("texts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "hour", name=op.f("pk_text_counts")),
    )


def downgrade() -> None:
    op.drop_table("text_counts")
