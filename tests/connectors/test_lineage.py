"""connectors.lineage.annotate on hand-built snapshots and on the real jaffle-shop dbt artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from datadesk.connectors.base import ColumnEdge, ColumnMeta, Snapshot, TableMeta
from datadesk.connectors.dbt import DbtConnector
from datadesk.connectors.lineage import MAX_SQL, annotate

JAFFLE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt" / "jaffle-shop"

Edge = tuple[str, str, str, str]  # (column, "schema.table", source column, kind)


def _table(schema: str, name: str, columns: list[str], kind: str = "table", sql: str = "") -> TableMeta:
    return TableMeta(
        schema, name, kind, definition=sql, columns=[ColumnMeta(c, ordinal=i) for i, c in enumerate(columns, 1)]
    )


def _warehouse(dialect: str = "postgres", *views: TableMeta) -> Snapshot:
    tables = [
        _table("public", "customers", ["id", "name", "region"]),
        _table("public", "orders", ["id", "customer_id", "total", "status", "ordered_at"]),
        _table("finance", "refunds", ["id", "order_id", "amount"]),
    ]
    return Snapshot("shop", {"public": "", "finance": ""}, [*tables, *views], dialect=dialect)


def _edges(table: TableMeta) -> set[Edge]:
    return {(e.column, ".".join(e.source), e.source_column, e.kind) for e in table.column_lineage}


def _view(sql: str, columns: list[str], dialect: str = "postgres", schema: str = "public") -> TableMeta:
    """A view over the warehouse's tables, annotated; its SQL must be readable."""
    view = _table(schema, "v", columns, "view", sql)
    assert annotate(_warehouse(dialect, view)) == 0
    assert not view.lineage_unparsed
    return view


def V(column: str, source: str, source_column: str) -> Edge:
    return (column, source, source_column, "value")


def F(source: str, source_column: str) -> Edge:
    return ("", source, source_column, "filter")


def test_ctes_and_nested_subqueries() -> None:
    view = _view(
        """
        WITH paid AS (SELECT id, customer_id, total * 1.2 AS gross FROM orders WHERE status = 'paid'),
             per_customer AS (SELECT customer_id, sum(gross) AS spent FROM paid GROUP BY customer_id)
        SELECT t.customer_id, t.spent
        FROM (SELECT * FROM (SELECT customer_id, spent FROM per_customer) AS inner_t) AS t
        """,
        ["customer_id", "spent"],
    )
    assert _edges(view) == {
        V("customer_id", "public.orders", "customer_id"),
        V("spent", "public.orders", "total"),
        F("public.orders", "status"),
        F("public.orders", "customer_id"),
    }


def test_union_reads_every_branch_by_position() -> None:
    view = _view(
        "SELECT id, total AS amount FROM orders UNION ALL SELECT order_id, amount FROM finance.refunds"
        " UNION SELECT id, NULL FROM customers",
        ["id", "amount"],
    )
    assert _edges(view) == {
        V("id", "public.orders", "id"),
        V("id", "finance.refunds", "order_id"),
        V("id", "public.customers", "id"),
        V("amount", "public.orders", "total"),
        V("amount", "finance.refunds", "amount"),
    }


def test_window_functions_read_their_partition_and_order() -> None:
    view = _view(
        "SELECT id, row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at) AS nth,"
        " sum(total) OVER (PARTITION BY customer_id) AS customer_total FROM orders",
        ["id", "nth", "customer_total"],
    )
    assert _edges(view) == {
        V("id", "public.orders", "id"),
        V("nth", "public.orders", "customer_id"),
        V("nth", "public.orders", "ordered_at"),
        V("customer_total", "public.orders", "customer_id"),
        V("customer_total", "public.orders", "total"),
    }


def test_aggregates_with_group_by_and_having() -> None:
    view = _view(
        "SELECT region, count(*) AS n, max(o.total) AS top FROM customers c JOIN orders o ON o.customer_id = c.id"
        " GROUP BY region HAVING sum(o.total) > 100",
        ["region", "n", "top"],
    )
    assert _edges(view) == {
        V("region", "public.customers", "region"),
        V("top", "public.orders", "total"),
        F("public.customers", "region"),
        F("public.orders", "total"),
        F("public.orders", "customer_id"),
        F("public.customers", "id"),
    }


def test_join_keys_are_filters_not_values() -> None:
    view = _view("SELECT c.name, o.total FROM customers c JOIN orders o ON o.customer_id = c.id", ["name", "total"])
    assert _edges(view) == {
        V("name", "public.customers", "name"),
        V("total", "public.orders", "total"),
        F("public.orders", "customer_id"),
        F("public.customers", "id"),
    }


def test_join_using() -> None:
    view = _view(
        "SELECT id, o.total, r.amount FROM orders o LEFT JOIN finance.refunds r USING (id)", ["id", "total", "amount"]
    )
    assert _edges(view) == {
        V("id", "public.orders", "id"),
        V("id", "finance.refunds", "id"),
        V("total", "public.orders", "total"),
        V("amount", "finance.refunds", "amount"),
        F("public.orders", "id"),
        F("finance.refunds", "id"),
    }


def test_where_columns_and_subqueries_in_it_are_filters() -> None:
    view = _view(
        "SELECT c.name FROM customers c WHERE c.region = 'EU'"
        " AND c.id IN (SELECT customer_id FROM orders WHERE status = 'paid')"
        " AND NOT EXISTS (SELECT 1 FROM finance.refunds r WHERE r.order_id = c.id)",
        ["name"],
    )
    assert _edges(view) == {
        V("name", "public.customers", "name"),
        F("public.customers", "region"),
        F("public.customers", "id"),
        F("public.orders", "customer_id"),
        F("public.orders", "status"),
        F("finance.refunds", "order_id"),
    }


def test_a_column_can_be_value_and_filter() -> None:
    view = _view("SELECT status FROM orders WHERE status <> 'void'", ["status"])
    assert _edges(view) == {V("status", "public.orders", "status"), F("public.orders", "status")}
    assert len(view.column_lineage) == 2  # deduplicated


def test_qualify_and_group_by_all_in_duckdb() -> None:
    view = _view(
        "SELECT customer_id, max(total) AS top FROM orders GROUP BY ALL"
        " QUALIFY row_number() OVER (ORDER BY max(ordered_at)) = 1",
        ["customer_id", "top"],
        dialect="duckdb",
    )
    assert _edges(view) == {
        V("customer_id", "public.orders", "customer_id"),
        V("top", "public.orders", "total"),
        F("public.orders", "customer_id"),
        F("public.orders", "ordered_at"),
    }


def test_select_star_expands_from_the_schema() -> None:
    view = _view(
        "SELECT * FROM (SELECT c.*, r.amount FROM customers c, finance.refunds r) AS t",
        ["id", "name", "region", "amount"],
    )
    assert _edges(view) == {
        V("id", "public.customers", "id"),
        V("name", "public.customers", "name"),
        V("region", "public.customers", "region"),
        V("amount", "finance.refunds", "amount"),
    }


def test_a_view_of_a_view_points_at_the_view() -> None:
    paid = _table("public", "paid", ["order_id", "total"], "view", "SELECT id AS order_id, total FROM orders")
    big = _table("public", "big", ["order_id"], "materialized_view", "SELECT order_id FROM paid WHERE total > 10")
    assert annotate(_warehouse("postgres", paid, big)) == 0
    assert _edges(paid) == {V("order_id", "public.orders", "id"), V("total", "public.orders", "total")}
    assert _edges(big) == {V("order_id", "public.paid", "order_id"), F("public.paid", "total")}


def test_names_match_case_insensitively_and_keep_the_catalogs_spelling() -> None:
    events = _table("public", "Events", ["Id", "Kind"])
    view = _table(
        "public", "Report", ["ID", "Kind"], "view", 'SELECT e."Id" AS id, KIND FROM "Events" e WHERE e.ID > 0'
    )
    view_of_it = _table("public", "r2", ["n"], "view", "SELECT count(*) AS N FROM REPORT WHERE KIND = 1")
    assert annotate(_warehouse("postgres", events, view, view_of_it)) == 0
    assert _edges(view) == {
        V("ID", "public.Events", "Id"),
        V("Kind", "public.Events", "Kind"),
        F("public.Events", "Id"),
    }
    assert _edges(view_of_it) == {F("public.Report", "Kind")}


def test_unreadable_sql_is_flagged_and_counted_never_raised() -> None:
    broken = _table("public", "broken", ["x"], "view", "SELECT FROM WHERE (((")
    too_long = _table("public", "long", ["x"], "view", "SELECT 1 AS x" + " " * MAX_SQL)
    not_a_query = _table("public", "ddl", ["x"], "view", "DROP TABLE orders")
    good = _table("public", "good", ["id"], "view", "SELECT id FROM orders")
    for table in (broken, too_long):
        table.upstream = [("public", "orders")]
    snapshot = _warehouse("postgres", broken, too_long, not_a_query, good)
    assert annotate(snapshot) == 3
    for table in (broken, too_long, not_a_query):
        assert table.lineage_unparsed and table.column_lineage == []
    assert broken.upstream == [("public", "orders")]  # table-level lineage stays as the connector found it
    assert not good.lineage_unparsed and _edges(good) == {V("id", "public.orders", "id")}


def test_deep_nesting_is_unparsed_not_raised() -> None:
    sql = "SELECT " + "(" * 3000 + "1" + ")" * 3000 + " AS x"
    view = _table("public", "deep", ["x"], "view", sql)
    assert annotate(_warehouse("postgres", view)) == 1  # sqlglot recurses past Python's limit
    assert view.lineage_unparsed


def test_tables_the_snapshot_lacks_are_dropped() -> None:
    view = _view("SELECT o.id, x.thing FROM orders o JOIN elsewhere.things x ON x.order_id = o.id", ["id", "thing"])
    assert _edges(view) == {V("id", "public.orders", "id"), F("public.orders", "id")}
    # A * the schema cannot expand (one of its tables is unknown): the view's columns say what it holds.
    star = _view("SELECT * FROM finance.refunds r, elsewhere.things", ["id", "order_id", "amount", "thing"])
    assert _edges(star) == {
        V("id", "finance.refunds", "id"),
        V("order_id", "finance.refunds", "order_id"),
        V("amount", "finance.refunds", "amount"),
    }


def test_a_cte_named_like_a_table_reads_the_table_inside_it() -> None:
    view = _view("WITH orders AS (SELECT id, total FROM orders WHERE total > 0) SELECT id FROM orders", ["id"])
    assert _edges(view) == {V("id", "public.orders", "id"), F("public.orders", "total")}


def test_recursive_cte_terminates() -> None:
    view = _view(
        "WITH RECURSIVE r(n) AS (SELECT id FROM orders UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT n FROM r",
        ["n"],
    )
    assert _edges(view) == {V("n", "public.orders", "id")}


def test_correlated_scalar_subquery() -> None:
    view = _view(
        "SELECT c.id, (SELECT max(o.total) FROM orders o WHERE o.customer_id = c.id) AS top FROM customers c",
        ["id", "top"],
    )
    assert _edges(view) == {
        V("id", "public.customers", "id"),
        V("top", "public.orders", "total"),
        F("public.orders", "customer_id"),
        F("public.customers", "id"),
    }


@pytest.mark.parametrize(
    ("dialect", "view_schema", "sql", "expected"),
    [
        # PostgreSQL: unqualified names are on the search_path (public); pg_get_viewdef qualifies the rest.
        ("postgres", "finance", "SELECT id FROM orders", "public.orders"),
        ("postgres", "public", "SELECT id FROM finance.refunds", "finance.refunds"),
        ("postgres", "public", "SELECT id FROM shop.finance.refunds", "finance.refunds"),
        # MySQL / MariaDB: the view's own database.
        ("mysql", "finance", "select `refunds`.`id` AS `id` from `refunds`", "finance.refunds"),
        ("mysql", "public", "select `finance`.`refunds`.`id` AS `id` from `finance`.`refunds`", "finance.refunds"),
        # DuckDB: the view's schema, then main; a one-part prefix naming the database is no schema.
        ("duckdb", "finance", "CREATE VIEW finance.v AS SELECT id FROM refunds;", "finance.refunds"),
        ("duckdb", "finance", "SELECT id FROM shop.refunds", "finance.refunds"),
        ("duckdb", "public", "SELECT id FROM refunds", None),
    ],
)
def test_names_resolve_as_the_engine_resolves_them(
    dialect: str, view_schema: str, sql: str, expected: str | None
) -> None:
    view = _view(sql, ["id"], dialect=dialect, schema=view_schema)
    assert _edges(view) == ({V("id", expected, "id")} if expected else set())


def test_duckdb_falls_back_to_main() -> None:
    main = _table("main", "events", ["id", "kind"])
    view = _table("analytics", "v", ["id"], "view", 'CREATE VIEW analytics.v AS SELECT id FROM "events"')
    assert annotate(Snapshot("wh", {}, [main, view], dialect="duckdb")) == 0
    assert _edges(view) == {V("id", "main.events", "id")}


def test_sqlite_create_view_with_a_column_list() -> None:
    people = _table("main", "people", ["id", "name"])
    view = _table(
        "main",
        "v",
        ["person", "label"],
        "view",
        'CREATE VIEW IF NOT EXISTS "v" (person, label) AS SELECT id, name\n'
        "FROM people -- the whole statement, as sqlite_master keeps it",
    )
    assert annotate(Snapshot("db", {"main": ""}, [people, view], dialect="sqlite")) == 0
    assert _edges(view) == {V("person", "main.people", "id"), V("label", "main.people", "name")}


def test_pg_get_viewdef_output() -> None:
    view = _view(
        " SELECT c.id AS customer_id,\n    c.name,\n    o.total\n   FROM (customers c\n"
        "     JOIN orders o ON ((o.customer_id = c.id)))\n  WHERE ((o.status)::text = 'paid'::text);",
        ["customer_id", "name", "total"],
    )
    assert _edges(view) == {
        V("customer_id", "public.customers", "id"),
        V("name", "public.customers", "name"),
        V("total", "public.orders", "total"),
        F("public.orders", "customer_id"),
        F("public.customers", "id"),
        F("public.orders", "status"),
    }


def test_tables_sources_and_seeds_are_left_alone() -> None:
    snapshot = _warehouse("postgres")
    snapshot.tables[0].definition = "SELECT 1"  # a table's definition is no view SQL
    assert annotate(snapshot) == 0
    assert all(not t.column_lineage and not t.lineage_unparsed for t in snapshot.tables)


# --- dbt: compiled SQL, read through the real connector ---------------------------------------------------


@pytest.fixture(scope="module")
def jaffle() -> Snapshot:
    snapshot = DbtConnector(str(JAFFLE / "manifest.json"), str(JAFFLE / "catalog.json")).read()
    assert annotate(snapshot) == 0
    return snapshot


def _node(snapshot: Snapshot, name: str) -> TableMeta:
    return next(t for t in snapshot.tables if t.unique_id == name)


def _dbt_edges(table: TableMeta) -> set[tuple[str, str, str, str]]:
    return {(e.column, e.source_id, e.source_column, e.kind) for e in table.column_lineage}


def test_dbt_staging_model_reads_the_source_not_the_seed(jaffle: Snapshot) -> None:
    # renamed as (select id as order_id, store_id as location_id, customer as customer_id, ...
    #   (order_total / 100)::numeric(16, 2) as order_total, date_trunc('day', ordered_at) as ordered_at from source)
    stg = _node(jaffle, "model.jaffle_shop.stg_orders")
    raw = "source.jaffle_shop.ecom.raw_orders"
    assert _dbt_edges(stg) == {
        ("order_id", raw, "id", "value"),
        ("location_id", raw, "store_id", "value"),
        ("customer_id", raw, "customer", "value"),
        ("subtotal_cents", raw, "subtotal", "value"),
        ("tax_paid_cents", raw, "tax_paid", "value"),
        ("order_total_cents", raw, "order_total", "value"),
        ("subtotal", raw, "subtotal", "value"),
        ("tax_paid", raw, "tax_paid", "value"),
        ("order_total", raw, "order_total", "value"),
        ("ordered_at", raw, "ordered_at", "value"),
    }
    assert {e.source for e in stg.column_lineage} == {("raw", "raw_orders")}


def test_dbt_orders_through_ctes_star_join_and_window(jaffle: Snapshot) -> None:
    orders = _node(jaffle, "model.jaffle_shop.orders")
    edges = _dbt_edges(orders)
    stg, items = "model.jaffle_shop.stg_orders", "model.jaffle_shop.order_items"
    # orders.* from stg_orders passes through compute_booleans and customer_order_count
    assert ("order_total", stg, "order_total", "value") in edges
    assert [e for e in orders.column_lineage if e.column == "order_total"] == [
        ColumnEdge("order_total", ("main", "stg_orders"), "order_total", "value", stg)
    ]
    # sum(supply_cost) as order_cost from order_items, grouped by order_id
    assert {e for e in edges if e[0] == "order_cost"} == {("order_cost", items, "supply_cost", "value")}
    assert {e for e in edges if e[0] == "is_food_order"} == {("is_food_order", items, "is_food_item", "value")}
    # row_number() over (partition by customer_id order by ordered_at)
    assert {e for e in edges if e[0] == "customer_order_number"} == {
        ("customer_order_number", stg, "customer_id", "value"),
        ("customer_order_number", stg, "ordered_at", "value"),
    }
    # left join order_items_summary on orders.order_id = order_items_summary.order_id; group by 1 (order_id)
    assert {e for e in edges if e[3] == "filter"} == {
        ("", stg, "order_id", "filter"),
        ("", items, "order_id", "filter"),
    }


def test_dbt_customers(jaffle: Snapshot) -> None:
    customers = _node(jaffle, "model.jaffle_shop.customers")
    orders, stg = "model.jaffle_shop.orders", "model.jaffle_shop.stg_customers"
    assert _dbt_edges(customers) == {
        ("customer_id", stg, "customer_id", "value"),
        ("customer_name", stg, "customer_name", "value"),
        ("count_lifetime_orders", orders, "order_id", "value"),
        ("first_ordered_at", orders, "ordered_at", "value"),
        ("last_ordered_at", orders, "ordered_at", "value"),
        ("lifetime_spend_pretax", orders, "subtotal", "value"),
        ("lifetime_tax_paid", orders, "tax_paid", "value"),
        ("lifetime_spend", orders, "order_total", "value"),
        # case when customer_orders_summary.is_repeat_buyer (count(distinct orders.order_id) > 1)
        ("customer_type", orders, "order_id", "value"),
        ("", orders, "customer_id", "filter"),  # group by 1
        ("", stg, "customer_id", "filter"),  # the join key
    }


def test_dbt_sources_seeds_and_functions_have_no_lineage(jaffle: Snapshot) -> None:
    for table in jaffle.tables:
        assert not table.lineage_unparsed
        if table.kind in ("source", "seed"):
            assert table.column_lineage == []
    # select cast(range as date) ... from range(...): a table function, no table
    assert _node(jaffle, "model.jaffle_shop.metricflow_time_spine").column_lineage == []


def _dbt_node(
    uid: str, schema: str, name: str, columns: list[str], compiled: str = "", kind: str = "model"
) -> TableMeta:
    table = _table(schema, name, columns, kind)
    table.unique_id, table.compiled, table.definition = uid, compiled, "select * from {{ ref('x') }}"
    table.relation = ("Warehouse", schema, name)
    return table


def test_dbt_relations_columns_added_and_nodes_without_compiled_sql() -> None:
    raw = _dbt_node("source.p.raw.events", "raw", "events", ["id", "kind", "at"], kind="source")
    # Upstream listed last: annotate reads stg first, so the columns it adds are there for final.
    final = _dbt_node(
        "model.p.final", "marts", "final", ["id"], 'select id, Label from analytics.marts_stg."STG" where kind_2 > 0'
    )
    stg = _dbt_node(
        "model.p.stg",
        "marts_stg",
        "stg",
        [],
        'select id, kind as "Label", kind AS kind_2 from "WAREHOUSE"."RAW"."EVENTS" where at > now()',
    )
    final.upstream_ids, stg.upstream_ids = ["model.p.stg"], ["source.p.raw.events"]
    uncompiled = _dbt_node("model.p.uncompiled", "marts", "uncompiled", ["id"])
    snapshot = Snapshot("p", {}, [final, raw, uncompiled, stg], dialect="snowflake")
    assert annotate(snapshot) == 0
    assert [(c.name, c.ordinal) for c in stg.columns] == [("id", 1), ("Label", 2), ("kind_2", 3)]
    assert _dbt_edges(stg) == {
        ("id", "source.p.raw.events", "id", "value"),
        ("Label", "source.p.raw.events", "kind", "value"),
        ("kind_2", "source.p.raw.events", "kind", "value"),
        ("", "source.p.raw.events", "at", "filter"),
    }
    assert [(c.name, c.ordinal) for c in final.columns] == [("id", 1), ("Label", 2)]
    assert _dbt_edges(final) == {
        ("id", "model.p.stg", "id", "value"),
        ("Label", "model.p.stg", "Label", "value"),
        ("", "model.p.stg", "kind_2", "filter"),
    }
    assert final.column_lineage[0].source == ("marts_stg", "stg")
    assert uncompiled.column_lineage == [] and not uncompiled.lineage_unparsed
