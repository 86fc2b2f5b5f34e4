"""access: roles, expiring keys with last use, sessions, sign-in failures; senders on
record; opt-in records

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    # Keys made before roles keep what they could do: everything (admin).
    op.add_column("api_keys", sa.Column("id", sa.String(32), nullable=True))
    op.execute("UPDATE api_keys SET id = 'k_' || substr(digest, 1, 16)")
    op.alter_column("api_keys", "id", nullable=False)
    op.create_unique_constraint(op.f("uq_api_keys_id"), "api_keys", ["id"])
    op.add_column(
        "api_keys", sa.Column("role", sa.String(20), server_default="admin", nullable=False)
    )
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("role", sa.String(20), server_default="agent", nullable=False))
    op.add_column("users", sa.Column("password_hash", sa.Text(), nullable=True))
    op.create_table(
        "sessions",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id", "user_id"],
            ["users.account_id", "users.id"],
            name=op.f("fk_sessions_account_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_sessions")),
    )
    op.create_index("ix_sessions_user", "sessions", ["account_id", "user_id"])
    op.create_table(
        "sign_in_failures",
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_sign_in_failures")),
    )
    op.create_table(
        "senders",
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        _now(),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_senders_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel", "address", name=op.f("pk_senders")),
    )
    op.create_index(op.f("ix_senders_account_id"), "senders", ["account_id"])
    op.create_table(
        "opt_in_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("lead_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_opt_in_records_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_in_records")),
    )
    op.create_index(
        "ix_opt_in_records_address", "opt_in_records", ["account_id", "channel", "address"]
    )


def downgrade() -> None:
    op.drop_index("ix_opt_in_records_address", table_name="opt_in_records")
    op.drop_table("opt_in_records")
    op.drop_index(op.f("ix_senders_account_id"), table_name="senders")
    op.drop_table("senders")
    op.drop_table("sign_in_failures")
    op.drop_index("ix_sessions_user", table_name="sessions")
    op.drop_table("sessions")
    op.drop_column("users", "password_hash")
    op.drop_column("users", "role")
    op.drop_column("api_keys", "last_used_at")
    op.drop_column("api_keys", "expires_at")
    op.drop_column("api_keys", "role")
    op.drop_constraint(op.f("uq_api_keys_id"), "api_keys", type_="unique")
    op.drop_column("api_keys", "id")
