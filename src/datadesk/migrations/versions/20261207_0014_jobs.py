"""jobs: sync schedules per integration, each run's trigger, and procrastinate's queue on PostgreSQL

`integration.schedule` is a 5-field cron expression in UTC (or NULL: no schedule) and `next_sync_at`
the next tick it fires at; workers fire a due schedule by moving `next_sync_at` on (compare and set),
so one tick fires once across any number of workers. `sync_run.trigger` says who asked: manual,
schedule or api. On PostgreSQL the store also holds procrastinate's own tables and functions
(jobs.queue), created from the installed procrastinate's schema.

Revision ID: 20261207_0014
Revises: 20261206_0013
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from datadesk.db import UTCDateTime

revision: str = "20261207_0014"
down_revision: str | None = "20261206_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, also on SQLite: recreating `integration` there would cascade-delete what references it.
    op.add_column("integration", sa.Column("schedule", sa.String(length=100), nullable=True))
    op.add_column("integration", sa.Column("next_sync_at", UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_integration_next_sync_at", "integration", ["next_sync_at"])
    op.add_column("sync_run", sa.Column("trigger", sa.String(length=16), nullable=False, server_default="manual"))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        exists = bind.exec_driver_sql("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").scalar()
        if not exists:
            bind.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(
            """
            DO $$
            DECLARE item record;
            BEGIN
                FOR item IN SELECT tablename FROM pg_tables
                            WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate%%' LOOP
                    EXECUTE format('DROP TABLE IF EXISTS %%I CASCADE', item.tablename);
                END LOOP;
                FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                            JOIN pg_namespace n ON n.oid = p.pronamespace
                            WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%%' LOOP
                    EXECUTE format('DROP FUNCTION IF EXISTS %%s CASCADE', item.signature);
                END LOOP;
                FOR item IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                            WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%%'
                              AND t.typtype IN ('e', 'c') LOOP
                    EXECUTE format('DROP TYPE IF EXISTS %%I CASCADE', item.typname);
                END LOOP;
            END $$;
            """
        )
    op.drop_column("sync_run", "trigger")  # SQLite 3.35+ drops columns in place
    op.drop_index("ix_integration_next_sync_at", table_name="integration")
    op.drop_column("integration", "next_sync_at")
    op.drop_column("integration", "schedule")
