"""routing offers (first to claim, the pond) and speed to lead (first_touches)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN_OFFERS = "offered IS NOT NULL AND agent IS NULL AND closed_at IS NULL"


def upgrade() -> None:
    op.add_column("routing_assignments", sa.Column("offered", postgresql.JSONB(), nullable=True))
    op.add_column(
        "routing_assignments", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "routing_assignments", sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("routing_assignments", sa.Column("terms", postgresql.JSONB(), nullable=True))
    op.add_column(
        "routing_assignments",
        sa.Column(
            "decided_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_routing_assignments_offers",
        "routing_assignments",
        ["account_id", "at"],
        postgresql_where=sa.text(_OPEN_OFFERS),
    )
    op.create_table(
        "first_touches",
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("lead_id", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id", "lead_id"],
            ["leads.account_id", "leads.lead_id"],
            name=op.f("fk_first_touches_account_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "lead_id", name=op.f("pk_first_touches")),
    )
    op.create_index("ix_first_touches_at", "first_touches", ["account_id", "at"])


def downgrade() -> None:
    op.drop_table("first_touches")
    op.drop_index("ix_routing_assignments_offers", table_name="routing_assignments")
    for column in ("decided_at", "terms", "taken_at", "expires_at", "offered"):
        op.drop_column("routing_assignments", column)
