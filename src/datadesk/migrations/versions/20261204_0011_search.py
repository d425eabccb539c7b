"""search: PostgreSQL's GIN search indexes take each write at once (fastupdate off)

With fastupdate on, new rows wait in a pending list that every search reads in full until a vacuum
merges it; after a sync that list holds thousands of rows, so search cost depended on when autovacuum
last ran (0.4 s at 20,000 resources just after a sync, 20 ms once merged). The pending rows are merged now.

Revision ID: 20261204_0011
Revises: 20261204_0010
Create Date: 2026-12-04 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261204_0011"
down_revision: str | None = "20261204_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = ("ix_resource_search_vector", "ix_resource_search_name_vector")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for index in INDEXES:
            op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
            op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for index in INDEXES:
            op.execute(f"ALTER INDEX {index} RESET (fastupdate)")
