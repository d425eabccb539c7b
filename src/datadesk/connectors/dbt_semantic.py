"""dbt's semantic layer: semantic models (dbt 1.6+) and metrics (MetricFlow's, and dbt 1.5's) from manifest.json."""

from __future__ import annotations

from typing import Any

from datadesk.connectors.base import MetricMeta, TableMeta
from datadesk.connectors.dbt_nodes import Json, enabled, owner_of, tags_of, upstream_of


def semantic_layer(manifest: Json, tables: dict[str, TableMeta]) -> list[MetricMeta]:
    """Semantic models (dbt 1.6+) and metrics, each with the unique_ids of what it is built on."""
    semantic = {
        uid: _semantic_model(uid, item, tables)
        for uid, item in (manifest.get("semantic_models") or {}).items()
        if enabled(item)
    }
    metrics = {uid: item for uid, item in (manifest.get("metrics") or {}).items() if enabled(item)}
    known = {*tables, *semantic, *metrics}
    return [*semantic.values(), *(_metric(uid, item, known) for uid, item in metrics.items())]


def _semantic_model(uid: str, item: Json, tables: dict[str, TableMeta]) -> MetricMeta:
    config = item.get("config") or {}
    upstream = upstream_of(item, tables)
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
        owner=owner_of(item.get("meta"), config.get("meta")),
        tags=tags_of(item),
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
        owner=owner_of(item.get("meta"), config.get("meta")),
        tags=tags_of(item),
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
