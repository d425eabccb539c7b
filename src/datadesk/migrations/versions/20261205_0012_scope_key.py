"""scope key: a member's list page is walked one Team set at a time

`resource.scope_key` is a short hash of `search_scope` (the words of the Teams that see the resource);
indexed after the workspace, it lets a page in name order be read per Team set the member shares, each
walk stopping at the page's end, instead of walking every resource of Teams they are not in.

Revision ID: 20261205_0012
Revises: 20261204_0011
Create Date: 2026-12-05 22:00:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261205_0012"
down_revision: str | None = "20261204_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTED = sa.text("sibling_id IS NULL AND deleted_at IS NULL")
CHUNK = 5000


def _key(scope: str) -> str:  # as datadesk.access.visibility.scope_key at this revision
    return hashlib.sha256(scope.encode()).hexdigest()[:16] if scope else ""


def upgrade() -> None:
    op.add_column("resource", sa.Column("scope_key", sa.String(16), nullable=False, server_default=""))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, search_scope FROM resource WHERE search_scope <> ''")).all()
    update = sa.text("UPDATE resource SET scope_key = :key WHERE id = :id")
    for start in range(0, len(rows), CHUNK):
        bind.execute(update, [{"id": r.id, "key": _key(r.search_scope)} for r in rows[start : start + CHUNK]])
    for name, columns in (
        ("ix_resource_ws_scope_name", ["workspace_id", "scope_key", "qualified_name", "id"]),
        ("ix_resource_ws_scope_type_name", ["workspace_id", "scope_key", "type", "qualified_name", "id"]),
    ):
        op.create_index(name, "resource", columns, sqlite_where=LISTED, postgresql_where=LISTED)
    op.execute("ANALYZE")


def downgrade() -> None:
    op.drop_index("ix_resource_ws_scope_type_name", table_name="resource")
    op.drop_index("ix_resource_ws_scope_name", table_name="resource")
    op.execute("ALTER TABLE resource DROP COLUMN scope_key")  # not a batch copy: it would drop the search triggers
