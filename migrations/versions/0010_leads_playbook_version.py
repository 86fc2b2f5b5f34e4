"""leads: the playbook version each lead runs, for migrations

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Leads recorded before this know their version only in their workflow: NULL here.
    op.add_column("leads", sa.Column("playbook", sa.String(100), nullable=True))
    op.add_column("leads", sa.Column("playbook_version", sa.Integer(), nullable=True))
    op.create_index(
        "ix_leads_playbook_version", "leads", ["account_id", "playbook", "playbook_version"]
    )


def downgrade() -> None:
    op.drop_index("ix_leads_playbook_version", table_name="leads")
    op.drop_column("leads", "playbook_version")
    op.drop_column("leads", "playbook")
