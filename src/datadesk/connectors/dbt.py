"""dbt: models, sources, seeds, snapshots, exposures, semantic models and metrics from manifest.json (v9-v12),
types from catalog.json, and the data tests' last results from run_results.json."""

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
    MetricMeta,
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
            if node.get("resource_type") in NODE_KINDS and _enabled(node):
                tables[uid] = _node_table(uid, node, catalog_nodes.get(uid))
        for uid, source in manifest.get("sources", {}).items():
            if _enabled(source):
                tables[uid] = _source_table(uid, source, catalog_nodes.get(uid))
        data_tests = [
            test
            for uid, node in manifest["nodes"].items()
            if node.get("resource_type") == "test"
            and _enabled(node)
            and (test := _attach_test(uid, node, tables, results)) is not None
        ]
        data_tests.sort(key=lambda t: (t.attached_id, t.column, t.name, t.unique_id))
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
        metrics = _semantic_layer(manifest, tables)
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


def _semantic_layer(manifest: Json, tables: dict[str, TableMeta]) -> list[MetricMeta]:
    """Semantic models (dbt 1.6+) and metrics, each with the unique_ids of what it is built on."""
    semantic = {
        uid: _semantic_model(uid, item, tables)
        for uid, item in (manifest.get("semantic_models") or {}).items()
        if _enabled(item)
    }
    metrics = {uid: item for uid, item in (manifest.get("metrics") or {}).items() if _enabled(item)}
    known = {*tables, *semantic, *metrics}
    return [*semantic.values(), *(_metric(uid, item, known) for uid, item in metrics.items())]


def _semantic_model(uid: str, item: Json, tables: dict[str, TableMeta]) -> MetricMeta:
    config = item.get("config") or {}
    upstream = _upstream_ids(item, tables)
    # The model it is defined on is its lineage edge, not a property: lineage names it only to who may see it.
    properties: Json = {
        "entities": [
            {
                "name": str(e["name"]),
                "type": str(e.get("type") or ""),
                "expr": str(e.get("expr") or ""),
                "description": str(e.get("description") or ""),
            }
            for e in item.get("entities") or []
        ],
        "measures": [_measure(m) for m in item.get("measures") or []],
        "dimensions": [_dimension(d) for d in item.get("dimensions") or []],
        "package_name": item.get("package_name") or "",
        "path": item.get("original_file_path") or item.get("path") or "",
    }
    if item.get("label"):
        properties["label"] = str(item["label"])
    defaults = item.get("defaults") or {}
    if defaults.get("agg_time_dimension"):
        properties["agg_time_dimension"] = str(defaults["agg_time_dimension"])
    if item.get("primary_entity"):
        properties["primary_entity"] = str(item["primary_entity"])
    return MetricMeta(
        name=str(item.get("label") or item["name"]),
        kind="semantic_model",
        description=item.get("description") or "",
        owner=_owner(item.get("meta"), config.get("meta")),
        tags=_tags(item),
        properties=properties,
        unique_id=uid,
        upstream_ids=upstream,
    )


def _measure(measure: Json) -> Json:
    """A measure: its aggregation over an expression (empty: the column of the measure's name)."""
    result = {
        "name": str(measure["name"]),
        "agg": str(measure.get("agg") or ""),
        "expr": str(measure.get("expr") or ""),
        "description": str(measure.get("description") or ""),
    }
    percentile = (measure.get("agg_params") or {}).get("percentile")
    if percentile is not None:
        result["percentile"] = percentile
    for key in ("label", "agg_time_dimension"):
        if measure.get(key):
            result[key] = str(measure[key])
    non_additive = measure.get("non_additive_dimension") or {}
    if non_additive.get("name"):
        result["non_additive_dimension"] = str(non_additive["name"])
    return result


def _dimension(dimension: Json) -> Json:
    params = dimension.get("type_params") or {}
    result = {
        "name": str(dimension["name"]),
        "type": str(dimension.get("type") or ""),
        "expr": str(dimension.get("expr") or ""),
        "time_granularity": str(params.get("time_granularity") or ""),
        "description": str(dimension.get("description") or ""),
    }
    if dimension.get("label"):
        result["label"] = str(dimension["label"])
    return result


def _metric(uid: str, item: Json, known: set[str]) -> MetricMeta:
    config = item.get("config") or {}
    depends = (item.get("depends_on") or {}).get("nodes") or []
    if "calculation_method" in item:  # dbt 1.5's metrics (manifest v9), before MetricFlow
        metric_type = str(item.get("calculation_method") or "")
        params: Json = {"expr": str(item["expression"])} if item.get("expression") else {}
        where = " and ".join(
            f"{f.get('field')} {f.get('operator')} {f.get('value')}"
            for f in item.get("filters") or []
            if isinstance(f, dict)
        )
    else:
        metric_type = str(item.get("type") or "")
        params = _type_params(item.get("type_params") or {})
        where = _filter(item.get("filter"))
    properties: Json = {
        "label": str(item.get("label") or ""),
        "metric_type": metric_type,
        "type_params": params,
        "package_name": item.get("package_name") or "",
        "path": item.get("original_file_path") or item.get("path") or "",
    }
    if where:
        properties["filter"] = where
    if item.get("time_granularity"):
        properties["time_granularity"] = str(item["time_granularity"])
    return MetricMeta(
        name=str(item.get("label") or item["name"]),
        kind="metric",
        metric_type=metric_type,
        description=item.get("description") or "",
        owner=_owner(item.get("meta"), config.get("meta")),
        tags=_tags(item),
        properties=properties,
        unique_id=uid,
        upstream_ids=[up for up in dict.fromkeys(depends) if up in known and up != uid],
    )


def _type_params(params: Json) -> Json:
    """What a metric is computed from, without dbt's empty fields."""
    result: Json = {}
    for key in ("measure", "numerator", "denominator"):
        name = _input_name(params.get(key))
        if name:
            result[key] = name
    measures = [name for name in dict.fromkeys(_input_name(m) for m in params.get("input_measures") or []) if name]
    if measures and measures != [result.get("measure")]:
        result["input_measures"] = measures
    if params.get("expr"):
        result["expr"] = str(params["expr"])
    inputs = [_metric_input(m) for m in params.get("metrics") or [] if isinstance(m, dict) and m.get("name")]
    if inputs:
        result["metrics"] = inputs
    cumulative = params.get("cumulative_type_params") or {}
    window = _window(cumulative.get("window") or params.get("window"))
    if window:
        result["window"] = window
    grain = cumulative.get("grain_to_date") or params.get("grain_to_date")
    if grain:
        result["grain_to_date"] = str(grain)
    conversion = params.get("conversion_type_params") or {}
    if conversion:
        found = {
            "base_measure": _input_name(conversion.get("base_measure")),
            "conversion_measure": _input_name(conversion.get("conversion_measure")),
            "entity": str(conversion.get("entity") or ""),
            "calculation": str(conversion.get("calculation") or ""),
            "window": _window(conversion.get("window")),
        }
        result["conversion"] = {key: value for key, value in found.items() if value}
    return result


def _input_name(value: Any) -> str:
    """A measure or metric input's name: dbt writes a name or {name, filter, alias, ...}."""
    if isinstance(value, dict):
        return str(value.get("name") or "")
    return str(value or "")


def _metric_input(item: Json) -> Json:
    result = {"name": str(item["name"])}
    if item.get("alias"):
        result["alias"] = str(item["alias"])
    offset = _window(item.get("offset_window"))
    if offset:
        result["offset_window"] = offset
    if item.get("offset_to_grain"):
        result["offset_to_grain"] = str(item["offset_to_grain"])
    where = _filter(item.get("filter"))
    if where:
        result["filter"] = where
    return result


def _window(value: Any) -> str:
    """{count: 1, granularity: month} as "1 month"; dbt 1.6 wrote {count, granularity} too, or a string."""
    if isinstance(value, dict):
        return f"{value.get('count')} {value.get('granularity')}" if value.get("granularity") else ""
    return str(value or "")


def _filter(value: Any) -> str:
    """A metric's or input's where filters, as the Jinja dbt keeps them, joined by "and"."""
    if not isinstance(value, dict):
        return ""
    templates = [str(f.get("where_sql_template") or "").strip() for f in value.get("where_filters") or []]
    return " and ".join(t for t in templates if t)


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
