"""the moment of contact: each message's window end and caps, each queued call's window end
and number, and the index the account's caps are counted by

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("send_by", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("caps", postgresql.JSONB(), nullable=True))
    op.create_index(
        "ix_outbox_reached",
        "outbox",
        ["account_id", "to_address", "attempted_at"],
        postgresql_where=sa.text("attempted_at IS NOT NULL"),
    )
    op.add_column(
        "call_queue", sa.Column("callable_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("call_queue", sa.Column("phone", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("call_queue", "phone")
    op.drop_column("call_queue", "callable_until")
    op.drop_index("ix_outbox_reached", table_name="outbox")
    op.drop_column("outbox", "caps")
    op.drop_column("outbox", "send_by")
