"""consent as a record, with its evidence and its end; each message and queued call says
whether the do-not-call lists are checked for it, and why they need not be

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("lead_id", sa.String(128), nullable=False),
        sa.Column("party", sa.String(64), nullable=False),
        sa.Column("address", sa.String(320), nullable=True),
        sa.Column("channels", postgresql.ARRAY(sa.String(10)), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("means", sa.String(20), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("form_url", sa.Text(), nullable=True),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("certificate", sa.String(200), nullable=True),
        sa.Column("disclosure", sa.Text(), nullable=False),
        sa.Column("seller", sa.String(200), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_why", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(
        "ix_consent_records_lead", "consent_records", ["account_id", "lead_id", "given_at"]
    )
    for table in ("outbox", "call_queue"):
        op.add_column(
            table, sa.Column("do_not_call", postgresql.ARRAY(sa.String(40)), nullable=True)
        )
        op.add_column(table, sa.Column("exemption", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("call_queue", "outbox"):
        op.drop_column(table, "exemption")
        op.drop_column(table, "do_not_call")
    op.drop_index("ix_consent_records_lead", table_name="consent_records")
    op.drop_table("consent_records")
