"""bulk imports: each file (imports) and each of its lines with what became of it
(import_rows); the parties' phone and email indexes duplicates are found by

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "digest", name="uq_imports_file"),
    )
    op.create_table(
        "import_rows",
        sa.Column("import_id", sa.String(32), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.String(128), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("body", JSONB(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["import_id"], ["imports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id", "line"),
    )
    op.create_index(
        "ix_import_rows_pending",
        "import_rows",
        ["import_id", "line"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_parties_phone", "parties", ["account_id", "phone"])
    op.create_index("ix_parties_email", "parties", ["account_id", sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_parties_email", table_name="parties")
    op.drop_index("ix_parties_phone", table_name="parties")
    op.drop_index("ix_import_rows_pending", table_name="import_rows")
    op.drop_table("import_rows")
    op.drop_table("imports")
