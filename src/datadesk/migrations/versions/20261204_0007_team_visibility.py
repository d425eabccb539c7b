"""team visibility: Teams are public or private

Revision ID: 20261204_0007
Revises: 20261204_0006
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261204_0007"
down_revision: str | None = "20261204_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every existing Team (Everyone included) was visible to the whole workspace: they start public.
    with op.batch_alter_table("team") as batch:
        batch.add_column(sa.Column("visibility", sa.String(length=16), nullable=False, server_default="public"))


def downgrade() -> None:
    with op.batch_alter_table("team") as batch:
        batch.drop_column("visibility")
