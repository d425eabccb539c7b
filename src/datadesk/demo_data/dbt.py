"""manifest.json, catalog.json and run_results.json of the acme_analytics dbt project, shaped like dbt 1.10's."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from datadesk.demo_data import spec
from datadesk.demo_data.dbt_project import (
    EXPOSURES,
    LOADERS,
    METRICS,
    MODELS,
    PROJECT,
    SEMANTIC_MODELS,
    SOURCE_DESCRIPTIONS,
    TARGET_SCHEMA,
    TESTS,
    DataTest,
    Exposure,
    Metric,
    MetricInput,
    Model,
    SemanticModel,
    compile_sql,
    sources,
)

Json = dict[str, Any]

DBT_VERSION = "1.10.13"
GENERATED_AT = "2026-11-01T06:00:00.000000Z"  # fixed: the artifacts must be byte-identical on every build
STARTED_AT = "2026-11-01T05:58:41.000000Z"
CREATED_AT = 1793512721.0  # 2026-11-01T05:58:41Z
INVOCATION_ID = "6f1c2d3e-4a5b-4c6d-8e7f-a1b2c3d4e5f6"
BUILD_INVOCATION_ID = "0b9e7d6c-5a4f-4e3d-9c2b-1a0f9e8d7c6b"  # the `dbt build` run_results.json reports
BUILD_STARTED = 1793512800  # 2026-11-01T06:00:00Z: the build after the docs; one second per node, in order
SEMANTIC_PATH = "marts/_semantic_layer.yml"
TEAM_OF_SOURCE = {"finance": "Finance", "marketing": "Marketing", "product": "Engineering"}
NO_QUOTING = {"database": None, "schema": None, "identifier": None, "column": None}
NO_FRESHNESS = {
    "warn_after": {"count": None, "period": None},
    "error_after": {"count": None, "period": None},
    "filter": None,
}


def write(directory: Path, conn: duckdb.DuckDBPyConnection) -> tuple[Path, Path, Path]:
    """Write manifest.json, catalog.json (types read back from the built warehouse) and run_results.json (the
    tests run on it) into directory."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path, catalog_path = directory / "manifest.json", directory / "catalog.json"
    run_results_path = directory / "run_results.json"
    built = manifest()
    manifest_path.write_text(json.dumps(built, indent=2) + "\n", encoding="utf-8")
    catalog_path.write_text(json.dumps(catalog(conn), indent=2) + "\n", encoding="utf-8")
    run_results_path.write_text(json.dumps(run_results(built, conn), indent=2) + "\n", encoding="utf-8")
    return manifest_path, catalog_path, run_results_path


def model_id(name: str) -> str:
    """unique_id of a model."""
    return f"model.{PROJECT}.{name}"


def source_id(source_name: str, table: str) -> str:
    """unique_id of a source table."""
    return f"source.{PROJECT}.{source_name}.{table}"


def semantic_model_id(name: str) -> str:
    return f"semantic_model.{PROJECT}.{name}"


def metric_id(name: str) -> str:
    return f"metric.{PROJECT}.{name}"


def data_test_id(test: DataTest) -> str:
    """unique_id of a data test: its name and a hash, as dbt makes them."""
    name = _test_name(test)
    return f"test.{PROJECT}.{name}.{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def run_results(built: Json, conn: duckdb.DuckDBPyConnection) -> Json:
    """What `dbt build` reports: each model built, each test run on the warehouse with the rows it found."""
    results: list[Json] = []
    for uid in [model_id(m.name) for m in MODELS] + [data_test_id(t) for t in TESTS]:
        node = built["nodes"][uid]
        status, failures, message = "success", None, "OK"
        if node["resource_type"] == "test":
            row = conn.execute(f"SELECT count(*) FROM ({node['compiled_code']}) AS failing").fetchone()
            failures = int(row[0]) if row else 0
            status = "pass" if failures == 0 else "fail"
            message = f"Got {failures} result{'s' if failures != 1 else ''}, configured to fail if != 0"
        started = BUILD_STARTED + len(results)
        results.append(
            {
                "status": status,
                "timing": [
                    {"name": "compile", "started_at": _at(started, 0), "completed_at": _at(started, 50_000)},
                    {"name": "execute", "started_at": _at(started, 50_000), "completed_at": _at(started, 800_000)},
                ],
                "thread_id": "Thread-1 (worker)",
                "execution_time": 0.8,
                "adapter_response": {"_message": "OK"},
                "message": message if status != "pass" else None,
                "failures": failures,
                "unique_id": uid,
                "compiled": True,
                "compiled_code": node["compiled_code"],
                "relation_name": node["relation_name"],
                "batch_results": None,
            }
        )
    return {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
            "dbt_version": DBT_VERSION,
            "generated_at": _at(BUILD_STARTED + len(results), 0),
            "invocation_id": BUILD_INVOCATION_ID,
            "invocation_started_at": _at(BUILD_STARTED, 0),
            "env": {},
        },
        "results": results,
        "elapsed_time": float(len(results)),
        "args": {"which": "build", "select": [], "exclude": []},
    }


def _at(epoch: int, microseconds: int) -> str:
    moment = datetime.fromtimestamp(epoch, UTC).replace(microsecond=microseconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def manifest() -> Json:
    """The manifest as a dict: models, sources, exposures, tests, semantic models, metrics and the lineage maps."""
    nodes: Json = {model_id(m.name): _model(m) for m in MODELS}
    for test in TESTS:
        uid, node = _test(test)
        nodes[uid] = node
    source_nodes = {source_id(schema, table): _source(schema, table) for schema, table in sources()}
    exposures = {f"exposure.{PROJECT}.{e.name}": _exposure(e) for e in EXPOSURES}
    semantic_models = {semantic_model_id(sm.name): _semantic_model(sm) for sm in SEMANTIC_MODELS}
    metrics = {metric_id(m.name): _metric(m) for m in METRICS}
    parent_map = {
        uid: sorted(item.get("depends_on", {}).get("nodes", []))
        for uid, item in {**nodes, **source_nodes, **exposures, **semantic_models, **metrics}.items()
    }
    child_map: dict[str, list[str]] = {uid: [] for uid in parent_map}
    for child, parents in parent_map.items():
        for parent in parents:
            child_map[parent].append(child)
    return {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "dbt_version": DBT_VERSION,
            "generated_at": GENERATED_AT,
            "invocation_id": INVOCATION_ID,
            "invocation_started_at": STARTED_AT,
            "env": {},
            "project_name": PROJECT,
            "project_id": hashlib.md5(PROJECT.encode()).hexdigest(),
            "user_id": None,
            "send_anonymous_usage_stats": False,
            "adapter_type": "duckdb",
            "quoting": {"database": True, "schema": True, "identifier": True, "column": None},
            "run_started_at": STARTED_AT,
        },
        "nodes": nodes,
        "sources": source_nodes,
        "macros": {},
        "docs": {},
        "exposures": exposures,
        "metrics": metrics,
        "groups": {},
        "selectors": {},
        "disabled": {},
        "parent_map": parent_map,
        "child_map": {uid: sorted(children) for uid, children in child_map.items()},
        "group_map": {},
        "saved_queries": {},
        "semantic_models": semantic_models,
        "unit_tests": {},
    }


def catalog(conn: duckdb.DuckDBPyConnection) -> Json:
    """What `dbt docs generate` reads back from DuckDB for every model and source."""
    relations = _relations(conn)
    nodes = {model_id(m.name): _built(model_id(m.name), relations[TARGET_SCHEMA, m.name]) for m in MODELS}
    built_sources = {
        source_id(schema, table): _built(source_id(schema, table), relations[schema, table])
        for schema, table in sources()
    }
    return {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json",
            "dbt_version": DBT_VERSION,
            "generated_at": GENERATED_AT,
            "invocation_id": INVOCATION_ID,
            "invocation_started_at": STARTED_AT,
            "env": {},
        },
        "nodes": nodes,
        "sources": built_sources,
        "errors": None,
    }


def _relation_name(schema: str, name: str) -> str:
    return f'"{spec.CATALOG}"."{schema}"."{name}"'


def _column(name: str, description: str) -> Json:
    return {
        "name": name,
        "description": description,
        "meta": {},
        "data_type": None,
        "constraints": [],
        "quote": None,
        "config": {"meta": {}, "tags": []},
        "tags": [],
        "granularity": None,
        "doc_blocks": [],
    }


def _config(model: Model) -> Json:
    return {
        "enabled": True,
        "alias": None,
        "schema": None,
        "database": None,
        "tags": list(model.tags),
        "meta": {"owner": model.owner},
        "group": None,
        "materialized": model.materialized,
        "incremental_strategy": None,
        "batch_size": None,
        "lookback": 1,
        "begin": None,
        "persist_docs": {"relation": True, "columns": True},
        "post-hook": [],
        "pre-hook": [],
        "quoting": {},
        "column_types": {},
        "full_refresh": None,
        "unique_key": None,
        "on_schema_change": "ignore",
        "on_configuration_change": "apply",
        "grants": {},
        "packages": [],
        "docs": {"show": True, "node_color": None},
        "contract": {"enforced": False, "alias_types": True},
        "event_time": None,
        "concurrent_batches": None,
        "access": "protected",
        "freshness": None,
    }


def _model(model: Model) -> Json:
    raw = model.sql.strip() + "\n"
    path = f"{model.folder}/{model.name}.sql"
    area = model.folder.rsplit("/", 1)[-1]
    return {
        "database": spec.CATALOG,
        "schema": TARGET_SCHEMA,
        "name": model.name,
        "resource_type": "model",
        "package_name": PROJECT,
        "path": path,
        "original_file_path": f"models/{path}",
        "unique_id": model_id(model.name),
        "fqn": [PROJECT, *model.folder.split("/"), model.name],
        "alias": model.name,
        "checksum": {"name": "sha256", "checksum": hashlib.sha256(raw.encode()).hexdigest()},
        "config": _config(model),
        "tags": list(model.tags),
        "description": model.description,
        "columns": {name: _column(name, text) for name, text in model.columns},
        "meta": {"owner": model.owner},
        "group": None,
        "docs": {"show": True, "node_color": None},
        "patch_path": f"{PROJECT}://models/{model.folder}/_{area}__models.yml",
        "build_path": None,
        "unrendered_config": {"materialized": model.materialized, "persist_docs": {"relation": True, "columns": True}},
        "created_at": CREATED_AT,
        "relation_name": _relation_name(TARGET_SCHEMA, model.name),
        "doc_blocks": [],
        "raw_code": raw,
        "language": "sql",
        "refs": [{"name": ref, "package": None, "version": None} for ref in model.refs()],
        "sources": [[schema, table] for schema, table in model.sources()],
        "metrics": [],
        "functions": [],
        "depends_on": {
            "macros": [],
            "nodes": [model_id(r) for r in model.refs()] + [source_id(s, t) for s, t in model.sources()],
        },
        "compiled_path": f"target/compiled/{PROJECT}/models/{path}",
        "compiled": True,
        "compiled_code": compile_sql(raw, quoted=True),
        "extra_ctes_injected": True,
        "extra_ctes": [],
        "contract": {"enforced": False, "alias_types": True, "checksum": None},
        "access": "protected",
        "constraints": [],
        "version": None,
        "latest_version": None,
        "deprecation_date": None,
        "primary_key": [model.columns[0][0]],
        "time_spine": None,
    }


def _source(schema: str, table: str) -> Json:
    raw = next(t for t in spec.TABLES if (t.schema, t.name) == (schema, table))
    path = f"models/staging/{schema}/_{schema}__sources.yml"
    owner = {"owner": TEAM_OF_SOURCE[schema]}
    return {
        "database": spec.CATALOG,
        "schema": schema,
        "name": table,
        "resource_type": "source",
        "package_name": PROJECT,
        "path": path,
        "original_file_path": path,
        "unique_id": source_id(schema, table),
        "fqn": [PROJECT, "staging", schema, schema, table],
        "source_name": schema,
        "source_description": SOURCE_DESCRIPTIONS[schema],
        "loader": LOADERS[schema],
        "identifier": table,
        "quoting": NO_QUOTING,
        "loaded_at_field": None,
        "loaded_at_query": None,
        "freshness": NO_FRESHNESS,
        "external": None,
        "description": raw.comment,
        "columns": {c.name: _column(c.name, c.comment) for c in raw.columns if c.comment},
        "meta": {},
        "source_meta": owner,
        "tags": [schema],
        "config": {
            "enabled": True,
            "event_time": None,
            "freshness": NO_FRESHNESS,
            "loaded_at_field": None,
            "loaded_at_query": None,
            "meta": owner,
            "tags": [],
            "static_analysis": None,
        },
        "patch_path": None,
        "unrendered_config": {"loaded_at_field": None, "loaded_at_query": None, "meta": owner, "tags": []},
        "relation_name": _relation_name(schema, table),
        "created_at": CREATED_AT,
        "unrendered_database": None,
        "unrendered_schema": schema,
        "doc_blocks": [],
    }


def _exposure(exposure: Exposure) -> Json:
    return {
        "name": exposure.name,
        "resource_type": "exposure",
        "package_name": PROJECT,
        "path": "marts/_exposures.yml",
        "original_file_path": "models/marts/_exposures.yml",
        "unique_id": f"exposure.{PROJECT}.{exposure.name}",
        "fqn": [PROJECT, "marts", exposure.name],
        "type": exposure.type,
        "owner": {"email": exposure.owner_email, "name": exposure.owner_name},
        "description": exposure.description,
        "label": exposure.label,
        "maturity": exposure.maturity,
        "meta": {},
        "tags": [],
        "config": {"enabled": True, "tags": [], "meta": {}},
        "unrendered_config": {},
        "url": exposure.url,
        "depends_on": {"macros": [], "nodes": [model_id(m) for m in exposure.depends_on]},
        "refs": [{"name": m, "package": None, "version": None} for m in exposure.depends_on],
        "sources": [],
        "metrics": [],
        "created_at": CREATED_AT,
    }


def _test_name(test: DataTest) -> str:
    return "__".join([f"{test.test}_{test.model}_{test.column}", *test.values])


def _compiled_test(test: DataTest, relation: str) -> str:
    """The test's SQL as dbt compiles it: it selects the failing rows."""
    if test.test == "not_null":
        return f"select {test.column}\nfrom {relation}\nwhere {test.column} is null\n"
    if test.test == "accepted_values":
        accepted = ",".join(f"'{value}'" for value in test.values)
        return (
            f"with all_values as (\n    select {test.column} as value_field, count(*) as n_records\n"
            f"    from {relation}\n    group by {test.column}\n)\n"
            f"select *\nfrom all_values\nwhere value_field not in ({accepted})\n"
        )
    return (
        f"select {test.column}, count(*) as n_records\nfrom {relation}\n"
        f"where {test.column} is not null\ngroup by {test.column}\nhaving count(*) > 1\n"
    )


def _test(test: DataTest) -> tuple[str, Json]:
    name = _test_name(test)
    uid = data_test_id(test)
    model = next(m for m in MODELS if m.name == test.model)
    compiled = _compiled_test(test, _relation_name(TARGET_SCHEMA, test.model))
    kwargs: Json = {"column_name": test.column, "model": f"{{{{ get_where_subquery(ref('{test.model}')) }}}}"}
    if test.values:
        kwargs["values"] = list(test.values)
    yml = f"models/{model.folder}/_{model.folder.rsplit('/', 1)[-1]}__models.yml"
    return uid, {
        "database": spec.CATALOG,
        "schema": f"{TARGET_SCHEMA}_dbt_test__audit",
        "name": name,
        "resource_type": "test",
        "package_name": PROJECT,
        "path": f"{name}.sql",
        "original_file_path": yml,
        "unique_id": uid,
        "fqn": [PROJECT, *model.folder.split("/"), name],
        "alias": name,
        "checksum": {"name": "none", "checksum": ""},
        "config": {
            "enabled": True,
            "alias": None,
            "schema": "dbt_test__audit",
            "database": None,
            "tags": [],
            "meta": {},
            "group": None,
            "materialized": "test",
            "severity": "ERROR",
            "store_failures": None,
            "store_failures_as": None,
            "where": None,
            "limit": None,
            "fail_calc": "count(*)",
            "warn_if": "!= 0",
            "error_if": "!= 0",
        },
        "tags": [],
        "description": "",
        "columns": {},
        "meta": {},
        "group": None,
        "docs": {"show": True, "node_color": None},
        "patch_path": None,
        "build_path": None,
        "unrendered_config": {},
        "created_at": CREATED_AT,
        "relation_name": None,
        "doc_blocks": [],
        "raw_code": f"{{{{ test_{test.test}(**_dbt_generic_test_kwargs) }}}}",
        "language": "sql",
        "refs": [{"name": test.model, "package": None, "version": None}],
        "sources": [],
        "metrics": [],
        "functions": [],
        "depends_on": {
            "macros": [f"macro.dbt.test_{test.test}", "macro.dbt.get_where_subquery"],
            "nodes": [model_id(test.model)],
        },
        "compiled_path": f"target/compiled/{PROJECT}/{yml}/{name}.sql",
        "compiled": True,
        "compiled_code": compiled,
        "extra_ctes_injected": True,
        "extra_ctes": [],
        "contract": {"enforced": False, "alias_types": True, "checksum": None},
        "column_name": test.column,
        "file_key_name": f"models.{test.model}",
        "attached_node": model_id(test.model),
        "test_metadata": {"name": test.test, "kwargs": kwargs, "namespace": None},
    }


def _semantic_model(model: SemanticModel) -> Json:
    return {
        "name": model.name,
        "resource_type": "semantic_model",
        "package_name": PROJECT,
        "path": SEMANTIC_PATH,
        "original_file_path": f"models/{SEMANTIC_PATH}",
        "unique_id": semantic_model_id(model.name),
        "fqn": [PROJECT, "marts", model.name],
        "model": f"ref('{model.model}')",
        "node_relation": {
            "alias": model.model,
            "schema_name": TARGET_SCHEMA,
            "database": spec.CATALOG,
            "relation_name": _relation_name(TARGET_SCHEMA, model.model),
        },
        "description": model.description,
        "label": None,
        "defaults": {"agg_time_dimension": model.agg_time_dimension},
        "entities": [
            {
                "name": name,
                "type": kind,
                "description": None,
                "label": None,
                "role": None,
                "expr": expr,
                "config": {"meta": {}},
            }
            for name, kind, expr in model.entities
        ],
        "measures": [
            {
                "name": m.name,
                "agg": m.agg,
                "description": m.description,
                "label": None,
                "create_metric": False,
                "expr": m.expr,
                "agg_params": None,
                "non_additive_dimension": None,
                "agg_time_dimension": None,
                "config": {"meta": {}},
            }
            for m in model.measures
        ],
        "dimensions": [
            {
                "name": d.name,
                "type": d.type,
                "description": d.description,
                "label": None,
                "is_partition": False,
                "type_params": {"time_granularity": d.granularity, "validity_params": None} if d.granularity else None,
                "expr": None,
                "metadata": None,
                "config": {"meta": {}},
            }
            for d in model.dimensions
        ],
        "metadata": None,
        "depends_on": {"macros": [], "nodes": [model_id(model.model)]},
        "refs": [{"name": model.model, "package": None, "version": None}],
        "created_at": CREATED_AT,
        "config": {"enabled": True, "group": None, "meta": {}},
        "unrendered_config": {},
        "primary_entity": model.primary_entity or None,
        "group": None,
    }


def _input_measures(metric: Metric) -> list[str]:
    """The measures a metric ends up aggregating, through the metrics it is built from."""
    if metric.measure:
        return [metric.measure]
    names = [metric.numerator, metric.denominator, *(i.name for i in metric.inputs)]
    by_name = {m.name: m for m in METRICS}
    return list(dict.fromkeys(measure for name in names if name for measure in _input_measures(by_name[name])))


def _metric_input(name: str, alias: str = "", offset: tuple[int, str] | None = None) -> Json:
    return {
        "name": name,
        "filter": None,
        "alias": alias or None,
        "offset_window": {"count": offset[0], "granularity": offset[1]} if offset else None,
        "offset_to_grain": None,
    }


def _metric(metric: Metric) -> Json:
    measure = (
        {"name": metric.measure, "filter": None, "alias": None, "join_to_timespine": False, "fill_nulls_with": None}
        if metric.measure
        else None
    )
    inputs: list[MetricInput] = list(metric.inputs)
    if metric.type == "ratio":
        inputs = [MetricInput(metric.numerator), MetricInput(metric.denominator)]
    depends = [semantic_model_id(metric.semantic_model)] if metric.semantic_model else []
    depends += list(dict.fromkeys(metric_id(i.name) for i in inputs))
    return {
        "name": metric.name,
        "resource_type": "metric",
        "package_name": PROJECT,
        "path": SEMANTIC_PATH,
        "original_file_path": f"models/{SEMANTIC_PATH}",
        "unique_id": metric_id(metric.name),
        "fqn": [PROJECT, "marts", metric.name],
        "description": metric.description,
        "label": metric.label,
        "type": metric.type,
        "type_params": {
            "measure": measure,
            "input_measures": [
                {"name": m, "filter": None, "alias": None, "join_to_timespine": False, "fill_nulls_with": None}
                for m in _input_measures(metric)
            ],
            "numerator": _metric_input(metric.numerator) if metric.numerator else None,
            "denominator": _metric_input(metric.denominator) if metric.denominator else None,
            "expr": metric.expr or None,
            "window": None,
            "grain_to_date": None,
            "metrics": [_metric_input(i.name, i.alias, i.offset_window) for i in metric.inputs],
            "conversion_type_params": None,
            "cumulative_type_params": None,
            "metric_aggregation_params": None,
        },
        "filter": {"where_filters": [{"where_sql_template": metric.filter}]} if metric.filter else None,
        "metadata": None,
        "time_granularity": None,
        "meta": {},
        "tags": [],
        "config": {"enabled": True, "group": None, "meta": {}},
        "unrendered_config": {},
        "sources": [],
        "depends_on": {"macros": [], "nodes": depends},
        "refs": [],
        "metrics": [],
        "created_at": CREATED_AT,
        "group": None,
    }


def _relations(conn: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], Json]:
    relations: dict[tuple[str, str], Json] = {}
    for schema, name, comment, kind in conn.execute(
        "SELECT schema_name, table_name, comment, 'BASE TABLE' FROM duckdb_tables() WHERE database_name = ? "
        "UNION ALL SELECT schema_name, view_name, comment, 'VIEW' FROM duckdb_views() "
        "WHERE database_name = ? AND NOT internal",
        [spec.CATALOG, spec.CATALOG],
    ).fetchall():
        relations[schema, name] = {"type": kind, "schema": schema, "name": name, "comment": comment, "columns": {}}
    for schema, table, column, data_type, index, comment in conn.execute(
        "SELECT schema_name, table_name, column_name, data_type, column_index, comment FROM duckdb_columns() "
        "WHERE database_name = ? ORDER BY schema_name, table_name, column_index",
        [spec.CATALOG],
    ).fetchall():
        if (schema, table) in relations:
            relations[schema, table]["columns"][column] = {
                "type": data_type,
                "index": index,
                "name": column,
                "comment": comment,
            }
    return relations


def _built(uid: str, relation: Json) -> Json:
    return {
        "metadata": {
            "type": relation["type"],
            "schema": relation["schema"],
            "name": relation["name"],
            "database": spec.CATALOG,
            "comment": relation["comment"],
            "owner": None,
        },
        "columns": relation["columns"],
        "stats": {
            "has_stats": {
                "id": "has_stats",
                "label": "Has Stats?",
                "value": False,
                "include": False,
                "description": "Indicates whether there are statistics for this table",
            }
        },
        "unique_id": uid,
    }
