"""Engine, sessions and the declarative base; sessions are sealed to one workspace."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, ForeignKey, MetaData, String, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


FTS_DEFERRED = "fts_deferred"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        list[dict[str, Any]]: JSON(),
    }


class WorkspaceScoped:
    """Mixin for every table holding one workspace's data; sessions filter on it."""

    workspace_id: Mapped[str] = mapped_column(String(32), ForeignKey("workspace.id", ondelete="CASCADE"), index=True)


class StoreSession(Session):
    """A session; once `workspace_id` is in its info, it reads and writes that workspace only."""

    @property
    def workspace_id(self) -> str | None:
        return self.info.get("workspace_id")

    def seal(self, workspace_id: str) -> None:
        current = self.info.get("workspace_id")
        if current is not None and current != workspace_id:
            raise RuntimeError("session already sealed to another workspace")
        self.info["workspace_id"] = workspace_id


@event.listens_for(StoreSession, "do_orm_execute")
def _filter_to_workspace(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    workspace_id = state.session.info.get("workspace_id")
    if workspace_id is None:
        # An unsealed session may touch workspace data only where the code says so explicitly
        # (login and token checks), so a forgotten seal fails loudly instead of leaking.
        if state.execution_options.get("all_workspaces"):
            return
        if any(issubclass(m.class_, WorkspaceScoped) for m in state.all_mappers):
            raise RuntimeError("workspace data read on an unsealed session")
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            WorkspaceScoped,
            lambda cls: cls.workspace_id == workspace_id,
            include_aliases=True,
        )
    )


@event.listens_for(StoreSession, "before_flush")
def _stamp_workspace(session: Session, _context: Any, _instances: Any) -> None:
    workspace_id = session.info.get("workspace_id")
    if workspace_id is None:
        return
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, WorkspaceScoped):
            continue
        if obj.workspace_id is None:
            obj.workspace_id = workspace_id
        elif obj.workspace_id != workspace_id:
            raise RuntimeError("write to another workspace refused")


def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
    # Search ranks by ln(popularity); not every SQLite build has its math functions.
    dbapi_connection.create_function("ln", 1, lambda x: math.log(x) if x and x > 0 else None, deterministic=True)
    # The FTS insert trigger asks this flag; a bulk sync raises it and indexes its rows in one statement.
    deferred = [0]
    record.info[FTS_DEFERRED] = deferred
    dbapi_connection.create_function("datadesk_fts_deferred", 0, lambda: deferred[0])
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the catalog store (SQLite or PostgreSQL)."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)  # a new DATADESK_HOME
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[StoreSession]:
    return sessionmaker(bind=engine, class_=StoreSession, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[StoreSession], workspace_id: str | None = None) -> Iterator[StoreSession]:
    """A session that commits on success and rolls back on any error."""
    session = factory()
    if workspace_id is not None:
        session.seal(workspace_id)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
