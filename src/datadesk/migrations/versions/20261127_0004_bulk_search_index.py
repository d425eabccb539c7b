"""bulk search index: the SQLite FTS insert trigger can be deferred by a bulk writer

Revision ID: 20261127_0004
Revises: 20261127_0003
Create Date: 2026-11-27 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261127_0004"
down_revision: str | None = "20261127_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFERRABLE = """CREATE TRIGGER resource_fts_insert AFTER INSERT ON resource WHEN NOT datadesk_fts_deferred() BEGIN
    INSERT INTO resource_fts(rowid, search_name, search_body, search_scope)
    VALUES (new.rowid, new.search_name, new.search_body, new.search_scope);
END"""

ALWAYS = """CREATE TRIGGER resource_fts_insert AFTER INSERT ON resource BEGIN
    INSERT INTO resource_fts(rowid, search_name, search_body, search_scope)
    VALUES (new.rowid, new.search_name, new.search_body, new.search_scope);
END"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER resource_fts_insert")
        op.execute(DEFERRABLE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER resource_fts_insert")
        op.execute(ALWAYS)
