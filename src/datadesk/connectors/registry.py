"""Which connector reads which integration type, and how an integration's config is shown."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from datadesk.connectors.base import Connector

URL_TYPES = ("postgres", "mysql", "sqlite", "duckdb")
TYPES = (*URL_TYPES, "dbt")
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


# Imported on first use: a deployment that only reads SQLite never loads duckdb or the drivers.
FACTORIES: dict[str, Callable[[Mapping[str, str]], Connector]] = {
    "postgres": _postgres,
    "mysql": _mysql,
    "sqlite": _sqlite,
    "duckdb": _duckdb,
    "dbt": _dbt,
}


def connector_for(type: str, config: Mapping[str, str]) -> Connector:
    """The connector for an integration of this type; ValueError for an unknown type or a bad config."""
    factory = FACTORIES.get(type)
    if factory is None:
        raise ValueError(f"unknown integration type {type!r}; expected one of: {', '.join(TYPES)}")
    return factory(config)


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
    except ArgumentError:
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
