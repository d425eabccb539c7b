"""Engine, sessions and the declarative base; sessions are sealed to one workspace."""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import JSON, DateTime, Engine, ForeignKey, MetaData, String, Table, create_engine, event, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    aliased,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.schema import ColumnDefault
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from datadesk.settings import Settings

log = logging.getLogger("datadesk")
_M = TypeVar("_M")

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


DEFAULT_BUSY_TIMEOUT = 15.0
# Statistics read every row: a sample (analysis_limit) rates a workspace at about the sample's size, whatever
# its real size, and SQLite then walks whole workspaces. A full ANALYZE of 100,000 resources takes ~0.1 s.
ANALYSIS_LIMIT = 0
OPTIMIZE_EVERY_SECONDS = 600.0
WRITE_LOCK_FIRST = "write_lock_first"  # session.info flag: see _take_write_lock
_BUSY_MS = "busy_ms"
_NO_WAIT = "no_wait"


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


@event.listens_for(StoreSession, "after_begin")
def _take_write_lock(session: Session, _transaction: Any, connection: Connection) -> None:
    # A SQLite session flagged as writing holds the write lock from its first read: its reads and writes are one
    # serializable unit, and it waits for the lock through the busy timeout (a transaction that read first gets
    # SQLITE_BUSY_SNAPSHOT at its first write, without waiting, if another writer committed in between). Other
    # sessions keep pysqlite's own BEGIN, emitted right before their first write, so they never hit that case.
    if not session.info.get(WRITE_LOCK_FIRST) or connection.dialect.name != "sqlite":
        return
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_before_savepoint(connection: Connection, _name: str) -> None:
    # pysqlite begins a transaction only before a DML statement: a SAVEPOINT issued first would open one of its
    # own, and releasing it would commit at once, out of reach of the outer transaction's rollback.
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN")


SQLiteConnectHook = Callable[[Any, Any], None]
_sqlite_connect_hooks: list[SQLiteConnectHook] = []


def on_sqlite_connect(hook: SQLiteConnectHook) -> SQLiteConnectHook:
    """Have `hook(dbapi_connection, connection_record)` run on each new SQLite store connection (e.g. to add SQL
    functions its triggers call); modules that own such functions register them as they are imported."""
    if hook not in _sqlite_connect_hooks:
        _sqlite_connect_hooks.append(hook)
    return hook


def _sqlite_pragmas(dbapi_connection: Any, record: Any, *, busy_ms: int) -> None:
    # Search ranks by ln(popularity); not every SQLite build has its math functions.
    dbapi_connection.create_function("ln", 1, lambda x: math.log(x) if x and x > 0 else None, deterministic=True)
    for hook in _sqlite_connect_hooks:
        hook(dbapi_connection, record)
    record.info[_BUSY_MS] = busy_ms
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
    cursor.close()


def _restore_busy_timeout(dbapi_connection: Any, record: Any) -> None:
    """Back in the pool, a connection that was told not to wait (see `apart`) waits again."""
    if record.info.pop(_NO_WAIT, False) and dbapi_connection is not None:
        try:
            dbapi_connection.execute(f"PRAGMA busy_timeout={record.info[_BUSY_MS]}")
        except sqlite3.Error:  # a broken connection: the pool drops it
            record.invalidate()


class _Optimizer:
    """SQLite's advice for connections that come and go: `PRAGMA optimize` as they close; here at most every
    OPTIMIZE_EVERY_SECONDS per engine, never waiting for a busy store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = time.monotonic()

    def __call__(self, dbapi_connection: Any, _record: Any) -> None:
        with self._lock:
            if time.monotonic() - self._last < OPTIMIZE_EVERY_SECONDS:
                return
            self._last = time.monotonic()
        try:
            dbapi_connection.execute("PRAGMA busy_timeout=0")
            dbapi_connection.execute("PRAGMA optimize")
        except sqlite3.Error:  # busy, or the connection is broken: statistics can wait
            log.debug("PRAGMA optimize skipped", exc_info=True)


def make_engine(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, **kwargs: Any) -> Engine:
    """An engine for the catalog store (SQLite or PostgreSQL); `busy_timeout` (seconds) is SQLite's wait for a lock."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)  # a new DATADESK_HOME
        connect_args = {"check_same_thread": False, "timeout": busy_timeout}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_ms=int(busy_timeout * 1000)))
        event.listen(engine, "checkin", _restore_busy_timeout)
        event.listen(engine, "savepoint", _begin_before_savepoint)
        event.listen(engine, "close", _Optimizer())
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **kwargs)


def engine_for(settings: Settings) -> Engine:
    """The store's engine, its pool sized for a server's threads as the settings say."""
    url = settings.database_url
    pool: dict[str, Any] = {
        "pool_size": settings.store_pool_size,
        "max_overflow": settings.store_pool_overflow,
        "pool_timeout": settings.store_pool_timeout,
    }
    if url.startswith("sqlite") and make_url(url).database in (None, "", ":memory:"):
        pool = {}  # an in-memory store has a single connection, not a pool
    return make_engine(url, busy_timeout=settings.store_busy_timeout, **pool)


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


# --- a busy store -----------------------------------------------------------------------------

_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
# PostgreSQL: too_many_connections, lock_not_available, cannot_connect_now, serialization_failure, deadlock_detected.
_BUSY_SQLSTATES = frozenset({"53300", "55P03", "57P03", "40001", "40P01"})


def is_busy(error: BaseException) -> bool:
    """Whether an error means the store stayed busy past its bounds (worth a retry), not that something is wrong."""
    if isinstance(error, sa_exc.TimeoutError):  # no free connection in the pool in time
        return True
    if not isinstance(error, sa_exc.OperationalError):
        return False
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
        return "locked" in str(orig)
    return getattr(orig, "sqlstate", None) in _BUSY_SQLSTATES


def engine_of(session: StoreSession) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def holds_write_lock(session: StoreSession) -> bool:
    """Whether the session's SQLite connection is in a write transaction (and so holds the write lock)."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    dbapi = session.connection().connection.dbapi_connection
    return bool(getattr(dbapi, "in_transaction", False))


@contextmanager
def apart(session: StoreSession, *, wait: bool = True) -> Iterator[StoreSession]:
    """A short transaction of its own, sealed like `session`, for writes that must not last as long as it does.

    On SQLite, when `session` already holds the write lock, this is `session` itself (another connection would
    wait for it), and the writes commit with it. With wait=False, a busy SQLite store raises at once instead of
    waiting out the busy timeout; on PostgreSQL the caller's statement decides (e.g. SKIP LOCKED).
    """
    if holds_write_lock(session):
        yield session
        session.flush()
        return
    own = StoreSession(bind=engine_of(session), expire_on_commit=False)
    if session.workspace_id is not None:
        own.seal(session.workspace_id)
    try:
        if not wait and own.get_bind().dialect.name == "sqlite":
            fairy = own.connection().connection
            fairy.info[_NO_WAIT] = True  # the pool's checkin puts the busy timeout back
            fairy.dbapi_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
        yield own
        own.commit()
    except BaseException:
        own.rollback()
        raise
    finally:
        own.close()


# --- planner statistics -----------------------------------------------------------------------

CATALOG_TABLES = ("resource", "resource_team", "resource_tag", "resource_owner", "lineage", "resource_link")
ANALYZE_AFTER_CHANGES = 500


def analyze(session: StoreSession) -> None:
    """Refresh the query planner's statistics of the catalog tables, after a change that moved many rows."""
    if session.get_bind().dialect.name != "sqlite":
        for table in CATALOG_TABLES:
            session.execute(text(f'ANALYZE "{table}"'))
        return
    session.execute(text(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}"))
    # PRAGMA optimize only looks at tables this connection has queried: name the catalog's own.
    for table in CATALOG_TABLES:
        session.execute(text(f'ANALYZE "{table}"'))
    session.execute(text("PRAGMA optimize"))
    # Other connections load statistics with the schema and keep them until it changes: a schema change that
    # leaves nothing behind makes every connection, in every process, read the new ones at its next statement.
    session.execute(text("CREATE TABLE datadesk_statistics_changed (x INTEGER)"))
    session.execute(text("DROP TABLE datadesk_statistics_changed"))


def analyze_if_changed(session: StoreSession, *, changed: int, total: int) -> bool:
    """analyze() when `changed` rows (created, updated, deleted) are many or over a tenth of `total`."""
    if changed > ANALYZE_AFTER_CHANGES or changed * 10 > total:
        analyze(session)
        return True
    return False


def shared_alias(model: type[_M]) -> type[_M]:
    """An alias of a model to build once and share between threads: its columns are built now.

    Built lazily, two threads' first queries could each build them; the workspace seal's criteria, adapted to
    one set, then missed the alias in the other's statement ("resource.workspace_id" beside "resource_1"),
    and the compiled cache served that broken statement from then on.
    """
    alias = aliased(model)
    inspect(alias).selectable.c  # noqa: B018 - building the collection is the point
    return alias


def insert_missing(session: StoreSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows, skipping those whose key is already there, also when another transaction adds it meanwhile.

    Two syncs of one workspace add the same words at the same time; a plain INSERT would fail the later one.
    """
    if not rows:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    if session.get_bind().dialect.name == "postgresql":
        session.execute(postgresql.insert(table).on_conflict_do_nothing(), rows)
    else:
        session.execute(sqlite.insert(table).on_conflict_do_nothing(), rows)


def bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys: COPY on PostgreSQL, executemany elsewhere.

    executemany sends one INSERT per row (pipelined by psycopg); a 35,000-resource first sync spent 3.9 s there.
    """
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    from psycopg import sql

    names = list(rows[0])
    # COPY knows nothing of the models' Python-side defaults: fill them as an INSERT would.
    defaults = {
        c.name: c.default
        for c in table.columns
        if c.name not in rows[0]
        and isinstance(c.default, ColumnDefault)
        and (c.default.is_scalar or c.default.is_callable)
    }
    if defaults:
        rows = [{**row, **{n: d.arg if d.is_scalar else d.arg(None) for n, d in defaults.items()}} for row in rows]
        names += list(defaults)
    columns = [table.c[name] for name in names]
    processors = [c.type.dialect_impl(connection.dialect).bind_processor(connection.dialect) for c in columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    )
    raw = connection.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    row[name] if process is None else process(row[name])
                    for name, process in zip(names, processors, strict=True)
                ]
            )
