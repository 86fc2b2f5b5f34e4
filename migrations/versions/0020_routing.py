"""routing: when and where each user works, each rule's rotation, every assignment

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_availability",
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("hours_start", sa.Time(), nullable=True),
        sa.Column("hours_end", sa.Time(), nullable=True),
        sa.Column("work_days", postgresql.JSONB(), nullable=False),
        sa.Column("away", sa.Boolean(), nullable=False),
        sa.Column("licensed", postgresql.JSONB(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "user_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_user_availability_account_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "user_id", name=op.f("pk_user_availability")),
    )
    op.create_table(
        "routing_rotations",
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("last", sa.String(128), nullable=True),
        sa.Column("current", postgresql.JSONB(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("account_id", "rule", name=op.f("pk_routing_rotations")),
    )
    op.create_table(
        "routing_assignments",
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("lead_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(100), nullable=True),
        sa.Column("agent", sa.String(128), nullable=True),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "account_id", "lead_id", "attempt", name=op.f("pk_routing_assignments")
        ),
    )
    op.create_index(
        "ix_routing_assignments_agent",
        "routing_assignments",
        ["account_id", "agent", "at"],
    )


def downgrade() -> None:
    op.drop_index("ix_routing_assignments_agent", table_name="routing_assignments")
    op.drop_table("routing_assignments")
    op.drop_table("routing_rotations")
    op.drop_table("user_availability")
