"""Creating and migrating the catalog store with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: several processes starting together migrate one at a time.
_MIGRATION_LOCK = 724_091_001


# Search structures are created by hand in the catalog migration and have no model.
SEARCH_OBJECTS = {
    "resource_fts",
    "search_vector",
    "ix_resource_search_vector",
    "search_name_vector",
    "ix_resource_search_name_vector",
}


def include_object(_obj: object, name: str | None, _type: str, _reflected: bool, _compare_to: object) -> bool:
    """Alembic filter: leave the hand-made search structures out of model comparisons."""
    # procrastinate's tables (PostgreSQL only) are its own, created from its schema (jobs.queue).
    return not (name in SEARCH_OBJECTS or (name or "").startswith(("resource_fts", "procrastinate")))


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the store to the given revision (idempotent)."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
