"""The store: migrations match the models on both backends; sessions are sealed to one workspace."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, update

from datadesk import store
from datadesk.db import Base, make_engine, transaction
from datadesk.identity.models import Team
from datadesk.store import include_object
from tests.world import World


def test_migrations_match_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []
    assert store.current_revision(make_engine(database_url)) == store.head_revision()


def test_upgrade_is_idempotent(database_url: str) -> None:
    engine = make_engine(database_url)
    store.upgrade(engine)
    store.upgrade(engine)
    assert store.current_revision(engine) == store.head_revision()
    engine.dispose()


def test_sealed_session_reads_one_workspace(sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions, world.a.id) as session:
        names = {t.workspace_id for t in session.scalars(select(Team))}
        assert names == {world.a.id}
        assert session.get(Team, world.b.teams["Finance"]) is None


def test_sealed_session_refuses_writes_to_another_workspace(sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="another workspace"), transaction(sessions, world.a.id) as session:
        session.add(Team(workspace_id=world.b.id, name="Intruders"))
    with transaction(sessions, world.a.id) as session:
        result = session.execute(update(Team).where(Team.id == world.b.teams["Finance"]).values(name="Pwned"))
        assert result.rowcount == 0  # type: ignore[attr-defined]
    with transaction(sessions, world.b.id) as session:
        assert session.get(Team, world.b.teams["Finance"]).name == "Finance"


def test_unsealed_session_cannot_read_workspace_data(sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="unsealed"), transaction(sessions) as session:
        session.scalars(select(Team)).all()


def test_a_session_cannot_be_resealed(sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions, world.a.id) as session, pytest.raises(RuntimeError):
        session.seal(world.b.id)


def test_bulk_insert_writes_every_kind_of_value_as_an_insert_would(database_url: str) -> None:
    """COPY on PostgreSQL, executemany elsewhere: JSON, aware datetimes, booleans, NULLs and text come back as given."""
    from datetime import UTC, datetime
    from typing import cast

    from sqlalchemy import Table

    from datadesk.catalog.models import Resource
    from datadesk.db import bulk_insert, make_sessionmaker, new_id
    from datadesk.identity import service as identity

    engine = make_engine(database_url)
    with transaction(make_sessionmaker(engine)) as session:
        workspace = identity.create_workspace(session=session, slug=f"bulk{new_id()[:6]}", name="Bulk")
    when = datetime(2026, 12, 5, 21, 30, tzinfo=UTC)
    rows = [
        {
            "id": new_id(),
            "workspace_id": workspace.id,
            "type": "table",
            "name": name,
            "qualified_name": f"db.{name}",
            "description": description,
            "properties": {"rows": 3, "nested": {"tab\tand\nnewline": [1, None]}},
            "source_tags": ["pii", "gold"],
            "teams_curated": i % 2 == 0,
            "row_estimate": None if i else 42,
            "source_popularity": 1.5,
            "created_at": when,
            "updated_at": when,
        }
        for i, (name, description) in enumerate([("a", "tab\there, newline\nthere \\N"), ("b", ""), ("c", "ünï")])
    ]
    with engine.begin() as connection:
        bulk_insert(connection, cast(Table, Resource.__table__), rows)
    with transaction(make_sessionmaker(engine), workspace.id) as session:
        found = {r.name: r for r in session.scalars(select(Resource))}
        for row in rows:
            got = found[row["name"]]
            assert {k: getattr(got, k) for k in row if k != "workspace_id"} == {
                k: v for k, v in row.items() if k != "workspace_id"
            }
    engine.dispose()


def test_a_savepoint_as_the_first_write_rolls_back_with_its_transaction(sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    """On SQLite a SAVEPOINT before any DML would open and, once released, commit a transaction of its own."""
    with pytest.raises(RuntimeError), transaction(sessions, world.a.id) as session:
        assert session.scalars(select(Team.name)).all()  # a read first, as services do
        with session.begin_nested():
            session.add(Team(name="ghost"))
        raise RuntimeError("the request fails afterwards")
    with transaction(sessions, world.a.id) as session:
        assert "ghost" not in session.scalars(select(Team.name)).all()


_SHARED_ALIASES = """
import importlib, pkgutil, sys
from sqlalchemy import inspect
from sqlalchemy.orm.util import AliasedClass
import datadesk
unbuilt = []
for info in pkgutil.walk_packages(datadesk.__path__, "datadesk."):
    if ".migrations" in info.name:
        continue
    module = importlib.import_module(info.name)
    for name, value in vars(module).items():
        if isinstance(value, AliasedClass) and not inspect(value).selectable._cols_populated:
            unbuilt.append(f"{info.name}.{name}")
print(" ".join(unbuilt))
"""


def test_every_alias_shared_between_threads_has_its_columns_built_before_they_share_it() -> None:
    """Built lazily by two threads' first queries at once, the seal's criteria missed the alias (an ask answered
    500 with "no such column: resource.workspace_id"). A fresh process: no query has built them yet."""
    found = subprocess.run([sys.executable, "-c", _SHARED_ALIASES], capture_output=True, text=True, check=True)
    assert found.stdout.split() == [], "module-level aliases made with aliased(), not db.shared_alias()"
