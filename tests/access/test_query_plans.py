"""Every hot read plans through the intended index on both stores, whatever the size of the catalog.

Each test runs a real service function on a catalog of about 14,500 resources in each of two
workspaces, captures every statement it sends, and asks the store for each one's plan.

- SQLite, analysed on every row: no big table is read whole, none but `resource` is walked by its
  workspace index alone, and `resource` only in the order a page shows it (stopping at the page's end,
  no sort of the walk); `resource_team` is read by resource.
- SQLite without statistics: it then judges every non-unique index alike, so only the visibility
  probes, which must not depend on that, are checked: each goes through (resource_id, team_id).
- PostgreSQL, analysed, with `enable_seqscan = off`: a sequential scan (or an index read without a
  condition) then means no index can serve. Whether to probe `resource_team` per row or hash the
  caller's Teams' rows, or walk a workspace, is left to its cost model, which weighs them by size.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import sessionmaker

from datadesk import store
from datadesk.access.caller import Caller
from datadesk.access.visibility import visible_resources
from datadesk.catalog import lineage_graph, search, siblings
from datadesk.catalog import service as catalog
from datadesk.catalog.models import Resource
from datadesk.db import StoreSession, analyze, make_engine, make_sessionmaker, transaction
from datadesk.errors import NotFound
from datadesk.identity import service as identity
from tests.access.catalog_fill import Catalog, fill
from tests.conftest import STORES
from tests.dbs import fresh_pg_database
from tests.world import World, build_world

TABLES = 2000  # per workspace: about 14,500 resources each
BIG_TABLES = ("resource", "resource_team", "resource_tag", "resource_owner", "lineage", "resource_link")
NO_STATISTICS = "sqlite without statistics"
KINDS = [*(["sqlite", NO_STATISTICS] if "sqlite" in STORES else []), *(["postgres"] if "postgres" in STORES else [])]


@dataclass
class Store:
    name: str
    engine: Engine
    sessions: sessionmaker[StoreSession]
    world: World
    catalogs: dict[str, Catalog]  # by workspace id
    extra_teams: list[str]  # of workspace A, holding nothing

    @property
    def viewer(self) -> Caller:
        """Everyone and Marketing (two of the three Teams the catalog is spread over), and Teams owning nothing.

        Several Teams matter: without statistics SQLite keeps a probe on the key for one or two Team ids,
        and leaves it for the workspace index from three on.
        """
        viewer = self.world.a.caller("viewer")
        return replace(viewer, team_ids=viewer.team_ids | set(self.extra_teams))

    @property
    def catalog(self) -> Catalog:
        return self.catalogs[self.world.a.id]


def _build(name: str, url: str) -> Store:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    world = build_world(sessions)
    with transaction(sessions, world.a.id) as session:
        operator = Caller.operator(world.a.id)
        extra = [identity.create_team(session=session, caller=operator, name=n).id for n in ("Sales", "Data")]
    catalogs = {}
    for space in (world.a, world.b):
        teams = [space.teams["Finance"], space.teams["Marketing"], space.everyone_id]
        catalogs[space.id] = fill(engine, space.id, teams, tables=TABLES, owner_id=space.editor.id)
    if name == NO_STATISTICS:
        with engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM sqlite_stat1")  # the migrations analysed the empty store
    else:
        with transaction(sessions) as session:
            analyze(session)  # as a sync that changed much does
    engine.dispose()  # SQLite reads its statistics when a connection opens
    return Store(name, engine, sessions, world, catalogs, extra)


@pytest.fixture(scope="module", params=KINDS)
def plans_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One filled store per kind for the whole module: filling it is most of the time spent here."""
    if request.param == "postgres":
        with fresh_pg_database("dd_plans") as url:
            engine = make_engine(url)
            store.upgrade(engine)
            engine.dispose()
            built = _build(request.param, url)
            yield built
            built.engine.dispose()
        return
    path = tmp_path_factory.mktemp("plans") / "store.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    built = _build(request.param, f"sqlite:///{path}")
    yield built
    built.engine.dispose()


def _captured(s: Store, run: Callable[[StoreSession], Any]) -> list[tuple[str, Any]]:
    """Every read the function sends, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(s.engine, "before_cursor_execute", capture)
    try:
        with transaction(s.sessions, s.viewer.workspace_id) as session:
            run(session)
    finally:
        event.remove(s.engine, "before_cursor_execute", capture)
    return seen


@dataclass(frozen=True)
class Access:
    """One read of a table in a plan: through which index, constrained on which columns."""

    table: str
    index: str | None  # None: the table is read whole
    columns: frozenset[str]
    sorted_after: bool  # what it reads is sorted afterwards: a walk that cannot stop at the page's end
    correlated: bool  # inside a subquery run for each row of the outer query (SQLite)


_SQLITE_READ = re.compile(
    r"^(SCAN|SEARCH) (\w+)(?: USING (?:(?:AUTOMATIC )?(?:COVERING )?INDEX (\w+)|(INTEGER PRIMARY KEY)))?(?: \((.*)\))?"
)
_SQLITE_COLUMN = re.compile(r"(\w+)(?:=|>|<| IN )")
_PG_COLUMN = re.compile(r"\(*(\w+)\)*(?:::[\w ]+?)?\)* (?:=|<|>|@@)")


def _sqlite_accesses(rows: list[tuple[int, int, str]]) -> list[Access]:
    details = {node: detail for node, _, detail in rows}
    parents = {node: parent for node, parent, _ in rows}
    sorted_walk = any(parent == 0 and "TEMP B-TREE FOR ORDER BY" in detail for _, parent, detail in rows)
    accesses = []
    for node, parent, detail in rows:
        match = _SQLITE_READ.match(detail)
        if match is None or "VIRTUAL TABLE" in detail:
            continue
        verb, table, index, rowid, constraints = match.groups()
        whole = verb == "SCAN" or "AUTOMATIC" in detail  # an automatic index is built by reading the table
        ancestors = []
        while node := parents.get(node, 0):
            ancestors.append(details.get(node, ""))
        accesses.append(
            Access(
                table,
                None if whole else index or rowid,
                frozenset(_SQLITE_COLUMN.findall(constraints or "")),
                sorted_walk and parent == 0,
                any(a.startswith("CORRELATED") for a in ancestors),
            )
        )
    return accesses


def _pg_accesses(node: dict[str, Any], sorted_above: bool = False, heap: str | None = None) -> list[Access]:
    kind = node["Node Type"]
    sorted_above = sorted_above or kind in ("Sort", "Incremental Sort")
    found = []
    if kind in ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Index Scan"):
        columns = frozenset(_PG_COLUMN.findall(node.get("Index Cond", "")))
        index = node.get("Index Name") if columns else None  # an index read without a condition reads it all
        found.append(Access(node.get("Relation Name") or heap or "?", index, columns, sorted_above, False))
    heap = node.get("Relation Name") if kind == "Bitmap Heap Scan" else heap
    for child in node.get("Plans", []):
        found += _pg_accesses(child, sorted_above, heap)
    return found


def _plans(s: Store, statements: list[tuple[str, Any]]) -> list[tuple[str, list[str], list[Access]]]:
    """(statement, its plan as printed, what it reads) for each statement."""
    result = []
    with s.engine.connect() as connection:
        postgres = s.engine.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("SET enable_seqscan = off")
        for sql, params in statements:
            if postgres:
                printed = [r[0] for r in connection.exec_driver_sql("EXPLAIN " + sql, params)]
                tree = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params).scalar_one()
                result.append((sql, printed, _pg_accesses(tree[0]["Plan"])))
            else:
                rows = [(r[0], r[1], r[3]) for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
                result.append((sql, _indented(rows), _sqlite_accesses(rows)))
    return result


def _indented(rows: list[tuple[int, int, str]]) -> list[str]:
    parents = {node: parent for node, parent, _ in rows}
    printed = []
    for _, parent, detail in rows:
        depth = 0
        while parent:
            depth, parent = depth + 1, parents.get(parent, 0)
        printed.append("  " * depth + detail)
    return printed


WORKSPACE_WALK = frozenset({"workspace_id", "type"})


def _faults(s: Store, sql: str, accesses: list[Access]) -> list[str]:
    """What is wrong with one plan on this store (see the module docstring)."""
    faults = []
    paged = re.search(r"\bLIMIT\b", sql) is not None
    for a in accesses:
        if a.table not in BIG_TABLES:
            continue
        if s.name == NO_STATISTICS:
            if a.table == "resource_team" and a.correlated and not {"resource_id", "team_id"} <= a.columns:
                faults.append(f"probes resource_team by {sorted(a.columns)}, not by its key ({a.index})")
        elif a.index is None:
            faults.append(f"reads {a.table} whole")
        elif s.name != "sqlite":
            continue
        elif a.table == "resource_team" and "resource_id" not in a.columns:
            faults.append(f"reads resource_team by {sorted(a.columns)}, not by resource ({a.index})")
        elif _walks_workspace(a, paged):
            faults.append(f"reads every {a.table} row of the workspace ({a.index} on {sorted(a.columns)})")
    return faults


def _walks_workspace(a: Access, paged: bool) -> bool:
    """Reads the workspace's rows, other than `resource`'s in the order of a page (which stops at its end)."""
    return a.columns <= WORKSPACE_WALK and (a.table != "resource" or a.sorted_after or not paged)


def _pick(s: Store, ids: list[str]) -> str:
    """One from the middle that the viewer sees."""
    return next(i for i in ids[len(ids) // 2 :] if s.catalog.team_of[i] in s.viewer.team_ids)


def _second_page(db: StoreSession, s: Store) -> Any:
    _, cursor = catalog.list_resources(session=db, caller=s.viewer)
    return catalog.list_resources(session=db, caller=s.viewer, cursor=cursor)


# Each hot read as the app calls it.
HOT: dict[str, Callable[[StoreSession, Store], Any]] = {
    "get_visible": lambda db, s: catalog.get_visible(db, s.viewer, _pick(s, s.catalog.tables)),
    "get_detail table": lambda db, s: catalog.get_detail(
        session=db, caller=s.viewer, resource_id=_pick(s, s.catalog.tables)
    ),
    "get_detail dbt model": lambda db, s: catalog.get_detail(
        session=db, caller=s.viewer, resource_id=_pick(s, s.catalog.models)
    ),
    "get_detail column": lambda db, s: catalog.get_detail(
        session=db, caller=s.viewer, resource_id=_pick(s, s.catalog.columns)
    ),
    "get_detail glossary term": lambda db, s: catalog.get_detail(
        session=db, caller=s.viewer, resource_id=_pick(s, s.catalog.terms)
    ),
    "visible_many": lambda db, s: catalog.visible_many(db, s.viewer, s.catalog.tables[:200] + s.catalog.models[:40]),
    "details of many": lambda db, s: catalog.details(
        db, s.viewer, catalog.visible_many(db, s.viewer, s.catalog.tables[:60] + s.catalog.models[:10])
    ),
    "list": lambda db, s: catalog.list_resources(session=db, caller=s.viewer),
    "list next page": _second_page,
    "list by type": lambda db, s: catalog.list_resources(session=db, caller=s.viewer, type="table"),
    "list by tag": lambda db, s: catalog.list_resources(session=db, caller=s.viewer, tag="pii"),
    "list by team": lambda db, s: catalog.list_resources(
        session=db, caller=s.viewer, team_id=s.world.a.teams["Marketing"]
    ),
    "list by owner": lambda db, s: catalog.list_resources(session=db, caller=s.viewer, owner_ids=[s.world.a.editor.id]),
    "list by parent": lambda db, s: catalog.list_resources(
        session=db, caller=s.viewer, parent_id=_pick(s, s.catalog.tables)
    ),
    "list by integration": lambda db, s: catalog.list_resources(
        session=db, caller=s.viewer, integration_id=s.catalog.warehouse_id, type="table"
    ),
    # As the home page asks it; by popularity without a type the workspace is still sorted.
    "list by popularity": lambda db, s: catalog.list_resources(
        session=db, caller=s.viewer, type="table", order_by="popularity"
    ),
    "list as admin": lambda db, s: catalog.list_resources(session=db, caller=s.world.a.caller("admin")),
    "search": lambda db, s: search.search(session=db, caller=s.viewer, q="customer"),
    "search with filters": lambda db, s: search.search(
        session=db, caller=s.viewer, q="order", type="table", tag="pii", team_id=s.world.a.teams["Marketing"]
    ),
    "search question": lambda db, s: search.search(
        session=db, caller=s.viewer, q="which payments were refunded", any_words=True, limit=40
    ),
    "lineage depth 3": lambda db, s: lineage_graph.graph(
        session=db, caller=s.viewer, resource_id=_pick(s, s.catalog.tables), depth=3
    ),
    "lineage of a dbt model": lambda db, s: lineage_graph.graph(
        session=db, caller=s.viewer, resource_id=_pick(s, s.catalog.models), depth=3
    ),
    "sibling faces": lambda db, s: siblings.faces(db, s.catalog.tables[:100] + s.catalog.models[:20]),
    "asset tags": lambda db, s: siblings.asset_tags(db, s.catalog.columns[:300]),
}


@pytest.mark.parametrize("query", HOT)
def test_hot_read_plans_through_its_index(plans_store: Store, query: str) -> None:
    statements = _captured(plans_store, lambda db: HOT[query](db, plans_store))
    assert statements
    report = []
    for sql, plan, accesses in _plans(plans_store, statements):
        if faults := _faults(plans_store, sql, accesses):
            report.append("\n".join([*faults, sql, "plan:", *plan]))
    assert not report, f"{query} on {plans_store.name}:\n\n" + "\n\n".join(report)


def test_the_probes_keep_the_workspace_seal(plans_store: Store) -> None:
    """The Team probes read resource_team unsealed: a Team id of another workspace still shows none of it.

    The caller of workspace A carries B's Teams, as if they had leaked; the session is sealed to A as
    in the app, then to B, so only the rule's own workspace condition stands between them.
    """
    a, b = plans_store.world.a, plans_store.world.b
    theirs = plans_store.catalogs[b.id]
    leaked = Caller(
        workspace_id=a.id,
        user_id=a.viewer.id,
        role="viewer",
        team_ids=frozenset([*a.viewer.team_ids, b.everyone_id, *b.teams.values()]),
    )
    targets = [*theirs.tables[:50], *theirs.models[:10], *theirs.columns[:50]]
    for sealed_to in (a.id, b.id):
        with transaction(plans_store.sessions, sealed_to) as db:
            assert catalog.visible_many(db, leaked, targets) == []
            for target in (theirs.tables[1], theirs.models[1]):
                with pytest.raises(NotFound):
                    catalog.get_visible(db, leaked, target)
            shown = set(db.scalars(select(Resource.workspace_id).where(visible_resources(leaked))))
            assert shown == ({a.id} if sealed_to == a.id else set())
            assert not {h.id for h in search.search(session=db, caller=leaked, q="customer", limit=100)} & set(targets)


@pytest.mark.parametrize("query", ["list", "list next page", "list by type"])
def test_a_members_page_walks_the_team_sets_they_share(plans_store: Store, query: str) -> None:
    """Walked by name across the workspace, a page reads every resource of the Teams the member is not in first."""
    statements = _captured(plans_store, lambda db: HOT[query](db, plans_store))
    walks = [
        a.index
        for sql, _, accesses in _plans(plans_store, statements)
        if re.search(r"\bLIMIT\b", sql)
        for a in accesses
        if a.table == "resource" and a.index and a.index.startswith("ix_resource_ws_")
    ]
    assert walks and all(w.startswith("ix_resource_ws_scope_") for w in walks), walks
