"""The integration types: one table of what each is (dialect, display name, connector); how a config is shown."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from datadesk.connectors.base import Connector

SECRET_KEYS = re.compile(r"password|secret|token|api_key|private_key", re.IGNORECASE)
MASK = "***"


def _postgres(config: Mapping[str, str]) -> Connector:
    from datadesk.connectors.postgres import PostgresConnector

    return PostgresConnector(_required(config, "url"))


def _mysql(config: Mapping[str, str]) -> Connector:
    from datadesk.connectors.mysql import MySQLConnector

    return MySQLConnector(_required(config, "url"))


def _sqlite(config: Mapping[str, str]) -> Connector:
    from datadesk.connectors.sqlite import SQLiteConnector

    return SQLiteConnector(_required(config, "url"))


def _duckdb(config: Mapping[str, str]) -> Connector:
    from datadesk.connectors.duckdb import DuckDBConnector

    return DuckDBConnector(_required(config, "url"))


def _dbt(config: Mapping[str, str]) -> Connector:
    from datadesk.connectors.dbt import DbtConnector

    return DbtConnector(
        _required(config, "manifest_path"), config.get("catalog_path") or None, config.get("run_results_path") or None
    )


@dataclass(frozen=True)
class Kind:
    """One integration type: what it is called, how its SQL is read, and which connector syncs it."""

    name: str  # as stored on an integration
    display_name: str
    dialect: str | None  # sqlglot's (and the guard's) dialect of a SQL engine; None: no data to query (dbt)
    connector: Callable[[Mapping[str, str]], Connector]
    url_backends: tuple[str, ...] = ()  # SQLAlchemy backend names of its URLs


# Connectors are imported on first use: a deployment that only reads SQLite never loads duckdb or the drivers.
KINDS: tuple[Kind, ...] = (
    Kind("postgres", "PostgreSQL", "postgres", _postgres, ("postgresql",)),
    Kind("mysql", "MySQL/MariaDB", "mysql", _mysql, ("mysql", "mariadb")),
    Kind("sqlite", "SQLite", "sqlite", _sqlite, ("sqlite",)),
    Kind("duckdb", "DuckDB", "duckdb", _duckdb, ("duckdb",)),
    Kind("dbt", "dbt", None, _dbt),
)
BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}
TYPES = tuple(BY_NAME)
SQL_DIALECTS: dict[str, str] = {kind.name: kind.dialect for kind in KINDS if kind.dialect is not None}
TYPE_OF_BACKEND: dict[str, str] = {backend: kind.name for kind in KINDS for backend in kind.url_backends}


def connector_for(type: str, config: Mapping[str, str]) -> Connector:
    """The connector for an integration of this type; ValueError for an unknown type or a bad config."""
    kind = BY_NAME.get(type)
    if kind is None:
        raise ValueError(f"unknown integration type {type!r}; expected one of: {', '.join(TYPES)}")
    return kind.connector(config)


def mask_config(type: str, config: Mapping[str, str]) -> dict[str, str]:
    """A copy of config safe to show: passwords inside URLs become ***, secret-named keys are masked."""
    masked: dict[str, str] = {}
    for key, value in config.items():
        if SECRET_KEYS.search(key):
            masked[key] = MASK if value else ""
        elif key == "url" or "://" in str(value):
            masked[key] = mask_url(str(value))
        else:
            masked[key] = value
    return masked


def mask_url(url: str) -> str:
    """The URL with its password (if any) replaced by ***."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        # Not a SQLAlchemy URL: mask whatever sits between "user:" and "@" after the scheme.
        return re.sub(r"(://[^:/@]*:)[^@]*@", rf"\g<1>{MASK}@", url)
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


def _required(config: Mapping[str, str], key: str) -> str:
    value = config.get(key)
    if not value:
        raise ValueError(f"the integration's config needs {key!r}")
    return value
