"""The hand-made column lineage labels (tests/fixtures/lineage) stay true to their sources, and the bench scores right.

Each labelled output column must be a column of its view or dbt model, and each source column a column of a table
that view or model reads: Pagila from the CREATE statements copied into the fixture folder (no PostgreSQL, no
../shared), the demo's dbt project from artifacts generated as the demo generates them, jaffle-shop from its
fixture artifacts. The scoring of bench/lineage_accuracy.py is checked on hand-made cases with a fake annotate.
"""

from __future__ import annotations

from collections import Counter

import pytest
import sqlglot
from bench.lineage_accuracy import JAFFLE, LABELS, LINEAGE_KINDS, Counts, Label, Score, evaluate, load_labels, score
from sqlglot import exp

from datadesk.connectors.base import ColumnEdge, ColumnMeta, Snapshot, TableMeta
from datadesk.connectors.dbt import DbtConnector
from datadesk.demo_data import warehouse

PAGILA_SQL = LABELS.parent / "pagila_views.sql"
ALL = load_labels()


def _columns(labels: list[Label]) -> list[Label]:
    return [label for label in labels if label.column]


def pagila_snapshot() -> Snapshot:
    """Pagila's tables and views as the PostgreSQL connector would list them, read from the copied CREATE SQL."""
    # sqlglot does not read a materialized view's trailing WITH NO DATA (it only says not to fill it now).
    sql = PAGILA_SQL.read_text(encoding="utf-8").replace("\n  WITH NO DATA;", ";")
    snapshot = Snapshot(database="pagila", dialect="postgres")
    for create in sqlglot.parse(sql, read="postgres"):
        assert isinstance(create, exp.Create), create
        if create.args["kind"] == "TABLE":
            target = create.this.this
            names = [c.name for c in create.this.expressions if isinstance(c, exp.ColumnDef)]
            table = TableMeta(schema=target.db, name=target.name, kind="table")
        else:
            target, query = create.this, create.expression
            names = list(query.named_selects)
            table = TableMeta(schema=target.db, name=target.name, kind="view", definition=query.sql("postgres"))
            table.upstream = sorted({(t.db, t.name) for t in query.find_all(exp.Table)})
        table.columns = [ColumnMeta(name=name, ordinal=i) for i, name in enumerate(names, 1)]
        snapshot.tables.append(table)
    return snapshot


@pytest.fixture(scope="module")
def demo_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    files = warehouse.build(tmp_path_factory.mktemp("demo_lineage"))
    return DbtConnector(str(files.manifest_path), str(files.catalog_path)).read()


@pytest.fixture(scope="module")
def jaffle_snapshot() -> Snapshot:
    return DbtConnector(str(JAFFLE / "manifest.json"), str(JAFFLE / "catalog.json")).read()


def problems(labels: list[Label], snapshot: Snapshot) -> list[str]:
    """Every label that names a table, output column or source column the snapshot does not have."""
    found = []
    by_name: dict[str, list[TableMeta]] = {}
    for table in snapshot.tables:
        by_name.setdefault(f"{table.schema}.{table.name}".lower(), []).append(table)
    for label in labels:
        owners = [t for t in snapshot.tables if t.name == label.table and t.kind in LINEAGE_KINDS]
        if len(owners) != 1:
            found.append(f"{label.table}: {len(owners)} views or models of that name")
            continue
        owner = owners[0]
        if label.column and label.column not in {c.name for c in owner.columns}:
            found.append(f"{label.table}.{label.column}: no such output column")
        read = {f"{schema}.{name}".lower() for schema, name in owner.upstream}
        for source, column in sorted(label.value | label.filter):
            if source not in by_name:
                found.append(f"{label.table}.{label.column}: {source} does not exist")
            elif source not in read:
                found.append(f"{label.table}.{label.column}: {source} is not read by {label.table}")
            elif not any(column in {c.name.lower() for c in t.columns} for t in by_name[source]):
                found.append(f"{label.table}.{label.column}: {source} has no column {column}")
    return found


def test_the_label_file_holds_enough_columns_of_each_source() -> None:
    per_source = Counter(label.source for label in _columns(ALL))
    assert set(per_source) == {"pagila", "demo_dbt", "jaffle"}
    assert sum(per_source.values()) >= 60
    assert min(per_source.values()) >= 15


def test_each_labelled_table_has_one_filter_line() -> None:
    """The filter columns bear on a whole table: one line with column "" per table, and no filter elsewhere."""
    tables = {(label.source, label.table) for label in ALL}
    filter_lines = Counter((label.source, label.table) for label in ALL if not label.column)
    assert set(filter_lines) == tables
    assert set(filter_lines.values()) == {1}
    assert all(not label.filter for label in _columns(ALL))
    assert all(not label.value for label in ALL if not label.column)


def test_pagila_labels_match_the_view_sql() -> None:
    labels = [label for label in ALL if label.source == "pagila"]
    snapshot = pagila_snapshot()
    assert problems(labels, snapshot) == []
    # Every source column is written in the view's SQL: Pagila's views select no star.
    views = {t.name: t for t in snapshot.tables if t.kind == "view"}
    for label in labels:
        written = {
            c.name.lower()
            for c in sqlglot.parse_one(views[label.table].definition, read="postgres").find_all(exp.Column)
        }
        assert {column for _, column in label.value | label.filter} <= written, label


def test_demo_dbt_labels_match_the_demo_project(demo_snapshot: Snapshot) -> None:
    assert problems([label for label in ALL if label.source == "demo_dbt"], demo_snapshot) == []


def test_jaffle_labels_match_the_jaffle_shop_artifacts(jaffle_snapshot: Snapshot) -> None:
    assert problems([label for label in ALL if label.source == "jaffle"], jaffle_snapshot) == []


def test_a_broken_label_is_caught(jaffle_snapshot: Snapshot) -> None:
    wrong = [
        Label("jaffle", "customers", "customer_nme", frozenset(), frozenset()),
        Label("jaffle", "customers", "customer_id", frozenset({("main.stg_customer", "customer_id")}), frozenset()),
        Label("jaffle", "customers", "customer_id", frozenset({("main.stg_orders", "order_id")}), frozenset()),
        Label("jaffle", "customers", "customer_id", frozenset({("main.stg_customers", "id")}), frozenset()),
        Label("jaffle", "raw_customers", "id", frozenset(), frozenset()),
    ]
    assert len(problems(wrong, jaffle_snapshot)) == 5


def _label(
    table: str, column: str, value: set[tuple[str, str]], filters: frozenset[tuple[str, str]] = frozenset()
) -> Label:
    return Label("jaffle", table, column, frozenset(value), filters)


def _snapshot() -> Snapshot:
    return Snapshot(
        database="x",
        tables=[
            TableMeta(schema="s", name="t", kind="model"),
            TableMeta(schema="s", name="u", kind="view"),
            TableMeta(schema="s", name="gone", kind="source"),  # a source of a labelled name is never the table
        ],
    )


LABELLED = [
    _label("t", "", set(), frozenset({("s.a", "k")})),
    _label("t", "x", {("s.a", "x"), ("s.a", "y")}),
    _label("t", "n", set()),  # count(*): no value source
    _label("t", "unlabelled_in_snapshot", {("s.b", "z")}),
    _label("u", "", set()),
    _label("u", "v", {("s.b", "v")}),
    _label("gone", "c", {("s.b", "c")}),
]


def fake_annotate(snapshot: Snapshot) -> int:
    """A parser that finds some edges, misses others and invents a few."""
    edges = {
        "t": [
            ColumnEdge("x", ("s", "a"), "x"),
            ColumnEdge("x", ("s", "a"), "w"),  # extra
            ColumnEdge("n", ("s", "a"), "x"),  # extra
            ColumnEdge("other", ("s", "a"), "q"),  # on an unlabelled column: not scored
            ColumnEdge("", ("s", "a"), "k", "filter"),
            ColumnEdge("", ("s", "a"), "m", "filter"),  # extra
        ],
        "u": [ColumnEdge("V", ("S", "B"), "V")],  # names compare case-insensitively
    }
    for table in snapshot.tables:
        table.column_lineage = edges.get(table.name, [])
    snapshot.tables[1].lineage_unparsed = True
    return 2


def test_scoring_counts_edges_of_labelled_columns_only() -> None:
    scores, failed = evaluate(LABELLED, {"jaffle": _snapshot()}, fake_annotate)
    result = scores["jaffle"]
    assert failed == {}
    # value: found s.a.x, s.b.v; extra s.a.w, s.a.x on n; missed s.a.y, s.b.z, s.b.c (table gone)
    assert (result.value.tp, result.value.fp, result.value.fn) == (2, 2, 3)
    assert result.value.precision == pytest.approx(2 / 4)
    assert result.value.recall == pytest.approx(2 / 5)
    assert result.value.f1 == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert (result.filter.tp, result.filter.fp, result.filter.fn) == (1, 1, 0)
    assert (result.filter.precision, result.filter.recall) == (0.5, 1.0)
    assert result.filter.f1 == pytest.approx(2 / 3)
    assert (result.columns, result.exact, result.tables) == (5, 1, 3)  # only u.v is exactly right
    assert result.exact_tables == 1  # u's filter (none, as labelled); t has an extra
    assert result.unparsed == 2
    assert result.missing_tables == ["jaffle gone"]
    assert result.unparsed_tables == ["jaffle u"]
    assert sorted(result.misses) == [
        "jaffle gone.c value: s.b.c",
        "jaffle t.unlabelled_in_snapshot value: s.b.z",
        "jaffle t.x value: s.a.y",
    ]
    assert sorted(result.extras) == ["jaffle t filter: s.a.m", "jaffle t.n value: s.a.x", "jaffle t.x value: s.a.w"]


def test_empty_sides_and_sums() -> None:
    assert (Counts().precision, Counts().recall, Counts().f1) == (1.0, 1.0, 1.0)
    assert (Counts(fn=2).precision, Counts(fn=2).recall) == (0.0, 0.0)  # found nothing of something
    assert (Counts(fp=1).precision, Counts(fp=1).recall) == (0.0, 0.0)  # found something of nothing
    total = Score(value=Counts(1, 0, 1), columns=2) + Score(value=Counts(1, 2, 0), columns=1)
    assert (total.value.tp, total.value.fp, total.value.fn, total.columns) == (2, 2, 1, 3)
    assert total.value.precision == 0.5 and total.value.recall == pytest.approx(2 / 3)


def test_a_crashing_annotate_is_reported_not_raised() -> None:
    def crash(_snapshot: Snapshot) -> int:
        raise ValueError("boom")

    scores, failed = evaluate(LABELLED, {"jaffle": _snapshot()}, crash)
    assert scores == {} and failed == {"jaffle": "annotate raised ValueError: boom"}


def test_score_ignores_other_sources_labels() -> None:
    other = [Label("pagila", "t", "x", frozenset({("s.a", "x")}), frozenset())]
    result = score(other, _snapshot(), "jaffle")
    assert (result.columns, result.tables) == (0, 0)
