"""the Reassigned Numbers Database's answers, kept; each message and queued call says since
when its number is known to be the party's

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "number_checks",
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("answer", sa.String(10), nullable=False),
        sa.Column(
            "checked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("number", "since", name=op.f("pk_number_checks")),
    )
    for table in ("outbox", "call_queue"):
        op.add_column(table, sa.Column("reassigned_since", sa.Date(), nullable=True))


def downgrade() -> None:
    for table in ("call_queue", "outbox"):
        op.drop_column(table, "reassigned_since")
    op.drop_table("number_checks")
