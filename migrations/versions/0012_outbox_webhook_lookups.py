"""outbox: the lookups provider webhooks route by (a message by its provider id; the texts
sent to an address, newest first)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_provider_id",
        "outbox",
        ["provider_id"],
        postgresql_where=sa.text("provider_id IS NOT NULL"),
    )
    op.create_index(
        "ix_outbox_texts_to",
        "outbox",
        ["to_address", "created_at"],
        postgresql_where=sa.text("channel IN ('sms', 'mms')"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_texts_to", table_name="outbox")
    op.drop_index("ix_outbox_provider_id", table_name="outbox")
