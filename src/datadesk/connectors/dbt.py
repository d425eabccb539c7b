"""dbt: models, sources, seeds, snapshots and exposures from manifest.json (v9-v12), types from catalog.json."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from datadesk.connectors.base import (
    ColumnMeta,
    ConnectionFailed,
    DashboardMeta,
    Progress,
    Snapshot,
    TableMeta,
    no_progress,
)

NODE_KINDS = ("model", "seed", "snapshot")  # tests, macros, analyses, operations... are not catalog objects
# v9 is dbt 1.5, v12 dbt 1.8-1.11; later versions are read as v12, fields are looked up defensively.
MIN_VERSION = 9
PHASES = 4

Json = dict[str, Any]


class DbtConnector:
    """Reads a dbt project's artifacts: manifest.json and, when given, catalog.json."""

    def __init__(self, manifest_path: str, catalog_path: str | None = None) -> None:
        self.manifest_path = Path(manifest_path).expanduser()
        self.catalog_path = Path(catalog_path).expanduser() if catalog_path else None

    def test(self) -> None:
        """Load and check both files."""
        self._load()

    def read(self, progress: Progress = no_progress) -> Snapshot:
        """Turn the manifest's nodes, sources and exposures into a snapshot."""
        manifest, catalog = self._load()
        progress(1, PHASES, "artifacts loaded")
        try:
            return self._read(manifest, catalog, progress)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConnectionFailed(f"{self.manifest_path} is not a well-formed dbt manifest ({exc!r})") from None

    def _read(self, manifest: Json, catalog: Json, progress: Progress) -> Snapshot:
        catalog_nodes: Json = {**catalog.get("nodes", {}), **catalog.get("sources", {})}

        tables: dict[str, TableMeta] = {}
        for uid, node in manifest["nodes"].items():
            if node.get("resource_type") in NODE_KINDS and _enabled(node):
                tables[uid] = _node_table(uid, node, catalog_nodes.get(uid))
        for uid, source in manifest.get("sources", {}).items():
            if _enabled(source):
                tables[uid] = _source_table(uid, source, catalog_nodes.get(uid))
        for node in manifest["nodes"].values():
            if node.get("resource_type") == "test" and _enabled(node):
                _attach_test(node, tables)
        for table in tables.values():
            table.tests.sort()
        progress(2, PHASES, f"{len(tables)} models, sources, seeds and snapshots")

        every_node = {**manifest["nodes"], **manifest.get("sources", {})}
        for uid, table in tables.items():
            table.upstream_ids = _upstream_ids(every_node[uid], tables)
            table.upstream = [(tables[up].schema, tables[up].name) for up in table.upstream_ids]
        progress(3, PHASES, "lineage")

        dashboards = [
            _exposure(uid, exposure, tables)
            for uid, exposure in manifest.get("exposures", {}).items()
            if _enabled(exposure)
        ]
        snapshot = Snapshot(
            database=_project_name(manifest),
            schemas={table.schema: "" for table in sorted(tables.values(), key=lambda t: t.schema)},
            tables=list(tables.values()),
            dashboards=dashboards,
            dialect=_dialect(manifest),
        )
        progress(4, PHASES, f"{len(dashboards)} exposures")
        return snapshot

    def _load(self) -> tuple[Json, Json]:
        manifest = _load_json(self.manifest_path, "manifest")
        version = _schema_version(manifest, "manifest")
        if not isinstance(manifest.get("nodes"), dict) or version is None:
            raise ConnectionFailed(f"{self.manifest_path} is not a dbt manifest.json (no metadata or nodes)")
        if version < MIN_VERSION:
            raise ConnectionFailed(
                f"{self.manifest_path} is a manifest v{version}; datadesk reads v9 and later (dbt 1.5+)"
            )
        catalog: Json = {}
        if self.catalog_path is not None:
            catalog = _load_json(self.catalog_path, "catalog")
            if _schema_version(catalog, "catalog") is None or not isinstance(catalog.get("nodes"), dict):
                raise ConnectionFailed(f"{self.catalog_path} is not a dbt catalog.json (no metadata or nodes)")
        return manifest, catalog


def _load_json(path: Path, what: str) -> Json:
    try:
        with path.open("rb") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ConnectionFailed(f"dbt {what} file {path} does not exist") from None
    except IsADirectoryError:
        raise ConnectionFailed(f"dbt {what} path {path} is a folder, not a {what}.json file") from None
    except OSError as exc:
        raise ConnectionFailed(f"cannot read dbt {what} file {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConnectionFailed(f"dbt {what} file {path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConnectionFailed(f"dbt {what} file {path} is not a dbt {what}.json")
    return data


def _schema_version(artifact: Json, kind: str) -> int | None:
    """The NN of .../dbt/<kind>/vNN.json in the artifact's metadata."""
    metadata = artifact.get("metadata")
    url = metadata.get("dbt_schema_version", "") if isinstance(metadata, dict) else ""
    match = re.search(rf"/{kind}/v(\d+)\.json$", str(url))
    return int(match.group(1)) if match else None


def _enabled(node: Json) -> bool:
    return bool((node.get("config") or {}).get("enabled", True))


def _node_table(uid: str, node: Json, built: Json | None) -> TableMeta:
    config = node.get("config") or {}
    materialized = str(config.get("materialized") or node["resource_type"])
    name = node["name"] if node.get("version") is None else f"{node['name']}_v{node['version']}"
    properties = {
        "materialized": materialized,
        "package_name": node.get("package_name") or "",
        "path": node.get("original_file_path") or node.get("path") or "",
    }
    if node.get("version") is not None:
        properties["version"] = str(node["version"])
    if node.get("access"):
        properties["access"] = str(node["access"])
    table = TableMeta(
        schema=node.get("schema") or "",
        name=name,
        kind=node["resource_type"],
        description=node.get("description") or "",
        columns=_columns(node.get("columns") or {}, built),
        definition=node.get("raw_code") or node.get("raw_sql") or "",
        compiled=node.get("compiled_code") or node.get("compiled_sql") or "",
        tags=_tags(node),
        owner=_owner(node.get("meta"), config.get("meta")),
        properties=properties,
        unique_id=uid,
    )
    if materialized != "ephemeral":  # ephemeral models are CTEs: nothing is built in the warehouse
        table.relation = (node.get("database") or "", node.get("schema") or "", node.get("alias") or node["name"])
    table.row_estimate = _row_count(built)
    return table


def _source_table(uid: str, source: Json, built: Json | None) -> TableMeta:
    properties = {
        "source_name": source.get("source_name") or "",
        "package_name": source.get("package_name") or "",
        "path": source.get("original_file_path") or source.get("path") or "",
    }
    if source.get("loader"):
        properties["loader"] = source["loader"]
    if source.get("source_description"):
        properties["source_description"] = source["source_description"]
    return TableMeta(
        schema=source.get("schema") or "",
        name=source["name"],
        kind="source",
        description=source.get("description") or "",
        columns=_columns(source.get("columns") or {}, built),
        tags=_tags(source),
        owner=_owner(source.get("meta"), source.get("source_meta"), (source.get("config") or {}).get("meta")),
        properties=properties,
        relation=(
            source.get("database") or "",
            source.get("schema") or "",
            source.get("identifier") or source["name"],
        ),
        row_estimate=_row_count(built),
        unique_id=uid,
    )


def _columns(documented: Json, built: Json | None) -> list[ColumnMeta]:
    """Documented columns merged with the built ones: the catalog's order and types, the manifest's words."""
    by_name = {name.lower(): column for name, column in documented.items()}
    built_columns = sorted(((built or {}).get("columns") or {}).values(), key=lambda c: c.get("index") or 0)
    names = [c["name"] for c in built_columns]
    seen = {name.lower() for name in names}
    names += [column.get("name") or key for key, column in documented.items() if key.lower() not in seen]
    types = {c["name"].lower(): c.get("type") or "" for c in built_columns}
    comments = {c["name"].lower(): c.get("comment") or "" for c in built_columns}

    result = []
    for ordinal, name in enumerate(names, start=1):
        doc = by_name.get(name.lower(), {})
        result.append(
            ColumnMeta(
                name=doc.get("name") or name,
                data_type=types.get(name.lower()) or doc.get("data_type") or "",
                description=doc.get("description") or comments.get(name.lower(), ""),
                ordinal=ordinal,
                tags=_tags(doc),
            )
        )
    return result


def _attach_test(test: Json, tables: dict[str, TableMeta]) -> None:
    """Note a data test on the node it tests: "unique(customer_id)", or the test's name alone."""
    depends = (test.get("depends_on") or {}).get("nodes") or []
    attached = test.get("attached_node") or (depends[0] if len(depends) == 1 else None)
    table = tables.get(attached or "")
    if table is None:
        return
    metadata = test.get("test_metadata") or {}
    name = str(metadata.get("name") or test.get("name") or "test")
    if metadata.get("namespace"):
        name = f"{metadata['namespace']}.{name}"
    label = f"{name}({test['column_name']})" if test.get("column_name") else name
    if label not in table.tests:
        table.tests.append(label)


def _tags(item: Json) -> list[str]:
    """Tags set on the item itself and in its config, in order, without repeats."""
    config = item.get("config") or {}
    tags: list[str] = []
    for tag in [*(item.get("tags") or []), *(config.get("tags") or [])]:
        if isinstance(tag, str) and tag not in tags:
            tags.append(tag)
    return tags


def _owner(*metas: Any) -> str:
    """The first meta.owner found, as text (a dict with name/email becomes "Name <email>")."""
    for meta in metas:
        if isinstance(meta, dict) and meta.get("owner"):
            return _person(meta["owner"])
    return ""


def _person(value: Any) -> str:
    if isinstance(value, dict):
        name, email = value.get("name") or "", value.get("email") or ""
        return f"{name} <{email}>" if name and email else str(name or email)
    if isinstance(value, list):
        return ", ".join(_person(v) for v in value)
    return str(value)


def _row_count(built: Json | None) -> int | None:
    """Rows as the warehouse reported them to dbt docs generate (only some adapters do)."""
    for key in ("row_count", "num_rows"):
        stat = ((built or {}).get("stats") or {}).get(key) or {}
        if stat.get("include", True) and isinstance(stat.get("value"), int | float):
            return int(stat["value"])
    return None


def _upstream_ids(node: Json, tables: dict[str, TableMeta]) -> list[str]:
    """depends_on.nodes that are catalog objects (not macros, metrics or disabled nodes)."""
    depends = (node.get("depends_on") or {}).get("nodes") or []
    return [uid for uid in dict.fromkeys(depends) if uid in tables]


def _exposure(uid: str, exposure: Json, tables: dict[str, TableMeta]) -> DashboardMeta:
    owner = exposure.get("owner") or {}
    upstream_ids = _upstream_ids(exposure, tables)
    return DashboardMeta(
        name=exposure.get("label") or exposure["name"],  # label is the human name (dbt 1.3+)
        description=exposure.get("description") or "",
        url=exposure.get("url") or "",
        owner=_person(owner) if owner else _owner(exposure.get("meta")),
        tags=_tags(exposure),
        upstream=[(tables[up].schema, tables[up].name) for up in upstream_ids],
        unique_id=uid,
        upstream_ids=upstream_ids,
    )


# dbt adapter types whose SQL sqlglot reads under another dialect name.
ADAPTER_DIALECTS = {
    "postgres": "postgres",
    "redshift": "redshift",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "duckdb": "duckdb",
    "databricks": "databricks",
    "spark": "spark",
    "trino": "trino",
    "mysql": "mysql",
    "sqlite": "sqlite",
    "sqlserver": "tsql",
    "fabric": "tsql",
    "athena": "athena",
    "clickhouse": "clickhouse",
    "oracle": "oracle",
}


def _dialect(manifest: Json) -> str:
    adapter = str((manifest.get("metadata") or {}).get("adapter_type") or "")
    return ADAPTER_DIALECTS.get(adapter, "")


def _project_name(manifest: Json) -> str:
    """metadata.project_name (dbt 1.6+); before that, the package most nodes belong to."""
    name = (manifest.get("metadata") or {}).get("project_name")
    if name:
        return str(name)
    packages = Counter(
        node.get("package_name") for node in manifest["nodes"].values() if node.get("resource_type") == "model"
    )
    return str(packages.most_common(1)[0][0]) if packages else "dbt"
