"""the user routing gave each queued call's lead to (call_queue.holder), for the claim;
routing's notices to users (outbox.audience, routing_assignments.notices)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call_queue", sa.Column("holder", sa.String(128), nullable=True))
    op.add_column(
        "outbox", sa.Column("audience", sa.String(10), server_default="lead", nullable=False)
    )
    op.add_column("routing_assignments", sa.Column("notices", postgresql.JSONB(), nullable=True))
    op.execute(
        """
        UPDATE call_queue AS q SET holder = a.agent
        FROM routing_assignments AS a
        WHERE a.account_id = q.account_id AND a.lead_id = q.lead_id
          AND a.agent IS NOT NULL AND a.closed_at IS NULL
        """
    )
    op.create_index(
        "ix_call_queue_held",
        "call_queue",
        ["account_id", "holder", sa.text("priority DESC"), "available_at"],
        postgresql_where=sa.text("holder IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_column("routing_assignments", "notices")
    op.drop_column("outbox", "audience")
    op.drop_index("ix_call_queue_held", table_name="call_queue")
    op.drop_column("call_queue", "holder")
