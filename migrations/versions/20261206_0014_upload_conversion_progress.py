"""dataset_uploads.converted: how far an upload's conversion to Parquet has gone

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_uploads") as batch:
        batch.add_column(sa.Column("converted", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dataset_uploads") as batch:
        batch.drop_column("converted")
