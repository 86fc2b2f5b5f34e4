"""calls made, by number, for the caps on a person: each claim records the number it hands
an agent, and each queued call carries the caps that count calls

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call_queue", sa.Column("caps", postgresql.JSONB(), nullable=True))
    op.create_table(
        "calls_made",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("lead_id", sa.String(128), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls_made")),
    )
    op.create_index("ix_calls_made_phone", "calls_made", ["account_id", "phone", "at"])


def downgrade() -> None:
    op.drop_index("ix_calls_made_phone", table_name="calls_made")
    op.drop_table("calls_made")
    op.drop_column("call_queue", "caps")
