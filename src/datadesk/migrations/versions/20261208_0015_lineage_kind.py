"""lineage kinds: column-level edges read from view and dbt SQL

`value`: an asset reading another (what every edge was before) or a column computed from another;
`filter`: a column deciding which rows a table holds (joins, WHERE, GROUP BY, HAVING).

Revision ID: 20261208_0015
Revises: 20261207_0014
Create Date: 2026-12-08 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_0015"
down_revision: str | None = "20261207_0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lineage", sa.Column("kind", sa.String(length=8), nullable=False, server_default="value"))


def downgrade() -> None:
    with op.batch_alter_table("lineage") as batch:
        batch.drop_column("kind")
