"""dbt: models, sources, seeds, snapshots, exposures, semantic models and metrics from manifest.json (v9-v12),
types from catalog.json, and the data tests' last results from run_results.json.

Semantic models and metrics are read in dbt_semantic.py; the fields every node shares in dbt_nodes.py."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datadesk.connectors.base import (
    ColumnMeta,
    ConnectionFailed,
    DashboardMeta,
    DataTestMeta,
    Progress,
    Snapshot,
    TableMeta,
    no_progress,
)
from datadesk.connectors.dbt_nodes import Json, as_person, enabled, owner_of, tags_of, upstream_of
from datadesk.connectors.dbt_semantic import semantic_layer

NODE_KINDS = ("model", "seed", "snapshot")  # tests, macros, analyses, operations... are not catalog objects
# v9 is dbt 1.5, v12 dbt 1.8-1.11; later versions are read as v12, fields are looked up defensively.
MIN_VERSION = 9
PHASES = 4


@dataclass(frozen=True)
class RunResult:
    """What run_results.json says of one node's last run."""

    status: str  # a test's: pass | fail | warn | error | skipped
    at: str  # ISO 8601 UTC, or "" when the file does not say
    failures: int | None


class DbtConnector:
    """Reads a dbt project's artifacts: manifest.json and, when given, catalog.json and run_results.json."""

    def __init__(
        self, manifest_path: str, catalog_path: str | None = None, run_results_path: str | None = None
    ) -> None:
        self.manifest_path = Path(manifest_path).expanduser()
        self.catalog_path = Path(catalog_path).expanduser() if catalog_path else None
        self.run_results_path = Path(run_results_path).expanduser() if run_results_path else None

    def test(self) -> None:
        """Load and check the files."""
        self._load()

    def read(self, progress: Progress = no_progress) -> Snapshot:
        """Turn the manifest's nodes, sources, exposures, semantic models and metrics into a snapshot."""
        manifest, catalog, results = self._load()
        progress(1, PHASES, "artifacts loaded")
        try:
            return self._read(manifest, catalog, results, progress)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConnectionFailed(f"{self.manifest_path} is not a well-formed dbt manifest ({exc!r})") from None

    def _read(self, manifest: Json, catalog: Json, results: dict[str, RunResult], progress: Progress) -> Snapshot:
        catalog_nodes: Json = {**catalog.get("nodes", {}), **catalog.get("sources", {})}

        tables: dict[str, TableMeta] = {}
        for uid, node in manifest["nodes"].items():
            if node.get("resource_type") in NODE_KINDS and enabled(node):
                tables[uid] = _node_table(uid, node, catalog_nodes.get(uid))
        for uid, source in manifest.get("sources", {}).items():
            if enabled(source):
                tables[uid] = _source_table(uid, source, catalog_nodes.get(uid))
        data_tests = [
            test
            for uid, node in manifest["nodes"].items()
            if node.get("resource_type") == "test"
            and enabled(node)
            and (test := _attach_test(uid, node, tables, results)) is not None
        ]
        data_tests.sort(key=lambda t: (t.attached_id, t.column, t.name, t.unique_id))
        for table in tables.values():
            table.tests.sort()
        progress(2, PHASES, f"{len(tables)} models, sources, seeds and snapshots")

        every_node = {**manifest["nodes"], **manifest.get("sources", {})}
        for uid, table in tables.items():
            table.upstream_ids = upstream_of(every_node[uid], tables)
            table.upstream = [(tables[up].schema, tables[up].name) for up in table.upstream_ids]
        progress(3, PHASES, "lineage")

        dashboards = [
            _exposure(uid, exposure, tables)
            for uid, exposure in manifest.get("exposures", {}).items()
            if enabled(exposure)
        ]
        metrics = semantic_layer(manifest, tables)
        snapshot = Snapshot(
            database=_project_name(manifest),
            schemas={table.schema: "" for table in sorted(tables.values(), key=lambda t: t.schema)},
            tables=list(tables.values()),
            dashboards=dashboards,
            dialect=_dialect(manifest),
            metrics=metrics,
            data_tests=data_tests,
        )
        progress(4, PHASES, f"{len(dashboards)} exposures, {len(metrics)} semantic models and metrics")
        return snapshot

    def _load(self) -> tuple[Json, Json, dict[str, RunResult]]:
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
        results: dict[str, RunResult] = {}
        if self.run_results_path is not None:
            results = _run_results(_load_json(self.run_results_path, "run_results"), self.run_results_path)
        return manifest, catalog, results


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
        tags=tags_of(node),
        owner=owner_of(node.get("meta"), config.get("meta")),
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
        tags=tags_of(source),
        owner=owner_of(source.get("meta"), source.get("source_meta"), (source.get("config") or {}).get("meta")),
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
                tags=tags_of(doc),
            )
        )
    return result


def _attach_test(
    uid: str, test: Json, tables: dict[str, TableMeta], results: dict[str, RunResult]
) -> DataTestMeta | None:
    """Note a data test on the node it tests ("unique(customer_id)", or the test's name alone), with its last result."""
    depends = (test.get("depends_on") or {}).get("nodes") or []
    attached = test.get("attached_node") or (depends[0] if len(depends) == 1 else None)
    table = tables.get(attached or "")
    if table is None or attached is None:
        return None
    metadata = test.get("test_metadata") or {}
    name = str(metadata.get("name") or test.get("name") or "test")
    if metadata.get("namespace"):
        name = f"{metadata['namespace']}.{name}"
    column = str(test.get("column_name") or "")
    label = f"{name}({column})" if column else name
    if label not in table.tests:
        table.tests.append(label)
    result = results.get(uid)
    if result is None:
        return DataTestMeta(uid, name, attached, column)
    return DataTestMeta(uid, name, attached, column, result.status, result.at, result.failures)


def _run_results(artifact: Json, path: Path) -> dict[str, RunResult]:
    """unique_id -> its last result, from run_results.json (v4+, dbt 1.5+; later ones read alike)."""
    results = artifact.get("results")
    if _schema_version(artifact, "run-results") is None or not isinstance(results, list):
        raise ConnectionFailed(f"{path} is not a dbt run_results.json (no metadata or results)")
    generated = _utc(artifact["metadata"].get("generated_at"))
    found: dict[str, RunResult] = {}
    for result in results:
        if not (
            isinstance(result, dict)
            and isinstance(result.get("unique_id"), str)
            and isinstance(result.get("status"), str)
        ):
            raise ConnectionFailed(
                f"{path} is not a well-formed dbt run_results.json (a result has no unique_id or status)"
            )
        failures = result.get("failures")
        found[result["unique_id"]] = RunResult(
            result["status"].strip().lower()[:20],
            _completed_at(result.get("timing")) or generated,
            failures if isinstance(failures, int) and not isinstance(failures, bool) else None,
        )
    return found


def _completed_at(timing: Any) -> str:
    """When the result's execute step (else its last step) completed."""
    steps = [step for step in timing if isinstance(step, dict)] if isinstance(timing, list) else []
    execute = [_utc(step.get("completed_at")) for step in steps if step.get("name") == "execute"]
    return next((at for at in execute if at), "") or max((_utc(step.get("completed_at")) for step in steps), default="")


def _utc(value: Any) -> str:
    """An ISO 8601 time as UTC to the second ("2026-11-30T06:01:02Z"); "" when it is none."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if moment.tzinfo is None:  # dbt writes UTC, with or without saying so
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _row_count(built: Json | None) -> int | None:
    """Rows as the warehouse reported them to dbt docs generate (only some adapters do)."""
    for key in ("row_count", "num_rows"):
        stat = ((built or {}).get("stats") or {}).get(key) or {}
        if stat.get("include", True) and isinstance(stat.get("value"), int | float):
            return int(stat["value"])
    return None


def _exposure(uid: str, exposure: Json, tables: dict[str, TableMeta]) -> DashboardMeta:
    owner = exposure.get("owner") or {}
    upstream_ids = upstream_of(exposure, tables)
    return DashboardMeta(
        name=exposure.get("label") or exposure["name"],  # label is the human name (dbt 1.3+)
        description=exposure.get("description") or "",
        url=exposure.get("url") or "",
        owner=as_person(owner) if owner else owner_of(exposure.get("meta")),
        tags=tags_of(exposure),
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
