"""The clinic's record number for each patient, unique where given.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_patients_external_id", ["external_id"])


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_constraint("uq_patients_external_id", type_="unique")
        batch.drop_column("external_id")
