"""name search vector: PostgreSQL indexes names apart, so a names-first search needs no weight recheck

Revision ID: 20261127_0005
Revises: 20261127_0004
Create Date: 2026-11-27 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261127_0005"
down_revision: str | None = "20261127_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """ALTER TABLE resource ADD COLUMN search_name_vector tsvector GENERATED ALWAYS AS (
                to_tsvector('simple', coalesce(search_name, '')) || to_tsvector('simple', coalesce(search_scope, ''))
            ) STORED"""
        )
        op.execute("CREATE INDEX ix_resource_search_name_vector ON resource USING gin (search_name_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_resource_search_name_vector")
        op.execute("ALTER TABLE resource DROP COLUMN search_name_vector")
