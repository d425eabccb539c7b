"""connector_for picks the connector of an integration type; mask_config hides secrets for display."""

from __future__ import annotations

from pathlib import Path

import pytest

from datadesk.connectors.dbt import DbtConnector
from datadesk.connectors.duckdb import DuckDBConnector
from datadesk.connectors.mysql import MySQLConnector
from datadesk.connectors.postgres import PostgresConnector
from datadesk.connectors.registry import connector_for, mask_config
from datadesk.connectors.sqlite import SQLiteConnector

MANIFEST = Path(__file__).resolve().parents[1] / "fixtures" / "dbt" / "jaffle-shop" / "manifest.json"


@pytest.mark.parametrize(
    ("type_", "config", "cls"),
    [
        ("postgres", {"url": "postgresql://u:pw@db.internal:5432/shop"}, PostgresConnector),
        ("postgres", {"url": "postgresql+psycopg://u@db.internal/shop"}, PostgresConnector),
        ("mysql", {"url": "mysql+pymysql://u:pw@db.internal/shop"}, MySQLConnector),
        ("sqlite", {"url": "sqlite:///data/shop.db"}, SQLiteConnector),
        ("duckdb", {"url": "duckdb:///data/warehouse.duckdb"}, DuckDBConnector),
        ("dbt", {"manifest_path": "target/manifest.json", "catalog_path": "target/catalog.json"}, DbtConnector),
    ],
)
def test_each_type_has_its_connector(type_: str, config: dict[str, str], cls: type) -> None:
    assert isinstance(connector_for(type_, config), cls)


def test_dbt_catalog_is_optional() -> None:
    connector = connector_for("dbt", {"manifest_path": str(MANIFEST), "catalog_path": ""})
    assert isinstance(connector, DbtConnector) and connector.catalog_path is None
    connector.test()


def test_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown integration type 'oracle'"):
        connector_for("oracle", {"url": "oracle://x"})


@pytest.mark.parametrize(
    ("type_", "config"),
    [
        ("postgres", {}),
        ("postgres", {"url": ""}),
        ("dbt", {"catalog_path": "c.json"}),
        ("postgres", {"url": "mysql://u@h/db"}),
        ("mysql", {"url": "postgresql://u@h/db"}),
        ("sqlite", {"url": "not a url"}),
    ],
)
def test_bad_config(type_: str, config: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        connector_for(type_, config)


def test_a_bad_url_error_does_not_repeat_the_url() -> None:
    with pytest.raises(ValueError) as info:
        connector_for("postgres", {"url": "postgresql//u:s3cr3t-pw@h/db"})
    assert "s3cr3t-pw" not in str(info.value)


def test_mask_config_hides_url_passwords() -> None:
    config = {"url": "postgresql+psycopg://analyst:s3cr3t-pw@db.internal:5432/shop?sslmode=require"}
    assert mask_config("postgres", config) == {
        "url": "postgresql+psycopg://analyst:***@db.internal:5432/shop?sslmode=require"
    }
    assert mask_config("mysql", {"url": "mysql://u:p%40ss@h/db"}) == {"url": "mysql://u:***@h/db"}
    assert config["url"].endswith("s3cr3t-pw@db.internal:5432/shop?sslmode=require")  # not changed in place


def test_mask_config_leaves_the_rest() -> None:
    assert mask_config("postgres", {"url": "postgresql://u@h/db"}) == {"url": "postgresql://u@h/db"}
    assert mask_config("sqlite", {"url": "sqlite:///data/shop.db"}) == {"url": "sqlite:///data/shop.db"}
    dbt = {"manifest_path": "/p/target/manifest.json", "catalog_path": ""}
    assert mask_config("dbt", dbt) == dbt


def test_mask_config_masks_secret_keys_and_unparsable_urls() -> None:
    assert mask_config("postgres", {"url": "postgresql://u@h/db", "password": "pw"})["password"] == "***"
    assert mask_config("x", {"dsn": "weird://u:pw@h/db"})["dsn"] == "weird://u:***@h/db"
