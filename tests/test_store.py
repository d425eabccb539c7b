"""The store: migrations match the models on both backends; sessions are sealed to one workspace."""

from __future__ import annotations

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
