"""the words leads write back (inbound_messages), for the lead's thread; the emails sent
to an address, for the replies that answer them

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("lead_id", sa.String(128), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("party", sa.String(100), nullable=False),
        sa.Column("from_address", sa.String(320), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("keyword", sa.String(20), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id", "lead_id"],
            ["leads.account_id", "leads.lead_id"],
            name=op.f("fk_inbound_messages_account_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "lead_id", "key", name=op.f("pk_inbound_messages")),
    )
    op.create_index(
        "ix_inbound_messages_lead", "inbound_messages", ["account_id", "lead_id", "received_at"]
    )
    op.create_index(
        "ix_outbox_emails_to",
        "outbox",
        [sa.text("lower(to_address)"), "created_at"],
        postgresql_where=sa.text("channel = 'email'"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_emails_to", table_name="outbox")
    op.drop_table("inbound_messages")
