"""what came after each campaign message, on its own outbox row (a bit each: a reply, an
opt-out, a call that reached the lead), so the per-step report is one pass over its index;
the marks of the messages from before filled in from the replies and calls that kept them

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox", sa.Column("answered", sa.SmallInteger(), server_default="0", nullable=False)
    )
    op.execute(
        """
        UPDATE outbox o SET answered = m.bits
        FROM (
            SELECT key, bit_or(bits) AS bits FROM (
                SELECT answered_key AS key,
                    CASE WHEN keyword = 'stop' THEN 3 ELSE 1 END AS bits
                FROM inbound_messages WHERE answered_key IS NOT NULL
                UNION ALL
                SELECT answered_key, 4 FROM call_logs WHERE answered_key IS NOT NULL
            ) e GROUP BY key
        ) m
        WHERE o.key = m.key
        """
    )
    op.drop_index("ix_call_logs_answered", table_name="call_logs")
    op.drop_index("ix_inbound_messages_answered", table_name="inbound_messages")
    op.drop_index("ix_outbox_steps", table_name="outbox")
    op.create_index(
        "ix_outbox_steps",
        "outbox",
        ["account_id", "created_at"],
        postgresql_include=["campaign", "step", "status", "answered"],
        postgresql_where=sa.text("campaign IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_steps", table_name="outbox")
    op.create_index(
        "ix_outbox_steps",
        "outbox",
        ["account_id", "created_at"],
        postgresql_include=["campaign", "step", "status"],
        postgresql_where=sa.text("campaign IS NOT NULL"),
    )
    op.create_index(
        "ix_inbound_messages_answered",
        "inbound_messages",
        ["account_id", "answered_at"],
        postgresql_where=sa.text("answered_key IS NOT NULL"),
    )
    op.create_index(
        "ix_call_logs_answered",
        "call_logs",
        ["account_id", "answered_at"],
        postgresql_where=sa.text("answered_key IS NOT NULL"),
    )
    op.drop_column("outbox", "answered")
