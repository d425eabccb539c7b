"""Fresh, throwaway databases on the machine's real PostgreSQL and MariaDB servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pymysql

PG_HOST = os.environ.get("DATADESK_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DATADESK_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("DATADESK_TEST_PG_USER", "postgres")
MYSQL_HOST = os.environ.get("DATADESK_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("DATADESK_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("DATADESK_TEST_MYSQL_USER", "root")


def unique_name(prefix: str = "dd_test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def pg_admin() -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)


@contextmanager
def fresh_pg_database(prefix: str = "dd_test") -> Iterator[str]:
    """Create an empty PostgreSQL database; yield its SQLAlchemy URL; drop it afterwards."""
    name = unique_name(prefix)
    with pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def mysql_admin(database: str | None = None) -> pymysql.connections.Connection:
    return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, database=database, autocommit=True)


@contextmanager
def fresh_mysql_database(prefix: str = "dd_test") -> Iterator[str]:
    """Create an empty MariaDB database; yield its SQLAlchemy URL; drop it afterwards."""
    name = unique_name(prefix)
    conn = mysql_admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
    finally:
        conn.close()
    try:
        yield f"mysql+pymysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
    finally:
        conn = mysql_admin()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()
