"""Alembic environment: runs on the connection datadesk.store hands in."""

from __future__ import annotations

from alembic import context

import datadesk.models  # noqa: F401  (registers every table on Base.metadata)
from datadesk.db import Base
from datadesk.store import include_object

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through datadesk.store.upgrade or `datadesk init`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=include_object,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
