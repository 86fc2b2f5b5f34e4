"""unsubscribe links: one random token per account and email address, for the link and the
one-click List-Unsubscribe header in every email

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 06:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unsubscribe_links",
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("account_id", "address", name=op.f("pk_unsubscribe_links")),
    )
    op.create_index("ix_unsubscribe_links_token", "unsubscribe_links", ["token"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_unsubscribe_links_token", table_name="unsubscribe_links")
    op.drop_table("unsubscribe_links")
