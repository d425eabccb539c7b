"""A big catalog shaped like synced ones, written fast, for bench/scale.py and bench/load.py.

Ten warehouse integrations, one per Team, each with a database, 7 schemas, tables and views (4-18 columns
each, named from a vocabulary of real table and column words), filled round-robin so every Team holds a
tenth. Tables read 1-3 earlier tables (mostly of their own warehouse; a fifth from anywhere), so lineage at
depth 3 walks a real DAG across Teams. Some tables and columns carry tags (pii among them) and owners.
One table in eight has a dbt model face (with faces for its first columns) linked the way
`catalog.links` links them (sibling_id, gate_id, a dbt_link edge); a few glossary terms link to tables.
Rows go in with Core statements, like `catalog.apply`'s writer; on SQLite the search index is built in
one statement at the end, as a sync does.
"""

from __future__ import annotations

import inspect
import json
import random
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, text
from sqlalchemy.orm import sessionmaker

from datadesk import crypto, store
from datadesk.access.caller import Caller
from datadesk.catalog.models import (
    Integration,
    IntegrationTeam,
    Lineage,
    Resource,
    ResourceLink,
    ResourceOwner,
    ResourceTag,
    ResourceTeam,
    SearchTerm,
)
from datadesk.catalog.search import index_fields, terms_of
from datadesk.catalog.search_index import FTS_DEFERRED, scope_of
from datadesk.db import StoreSession, make_engine, make_sessionmaker, new_id, transaction, utcnow
from datadesk.identity import service as identity
from datadesk.identity.models import Role
from datadesk.identity.security import hash_password

SLUG = "bench"
TEAMS = 10
SCHEMAS = 7
CHUNK = 20_000
WORDS = (
    "customer order invoice payment refund subscription plan account user session event campaign lead "
    "product price discount shipment address country region city store employee department salary ticket "
    "support survey response rating review inventory warehouse supplier vendor contract revenue cost "
    "margin budget forecast churn retention cohort funnel conversion click impression ad spend channel "
    "source medium email phone name created updated deleted status type amount total quantity date time "
    "year month day week id key code label category segment tier score flag"
).split()
DATA_TYPES = ("integer", "bigint", "text", "varchar(255)", "timestamp", "date", "numeric(12,2)", "boolean")
TABLE_TAGS = ("pii", "core", "finance", "marketing", "deprecated", "gold")


@dataclass
class TableRef:
    id: str
    name: str
    qualified_name: str
    team: int  # index into Catalog.team_ids
    column_ids: list[str] = field(default_factory=list)


@dataclass
class Person:
    user_id: str
    email: str
    password: str
    role: str
    token: str
    team_ids: list[str]


@dataclass
class Catalog:
    url: str
    engine: Engine
    sessions: sessionmaker[StoreSession]
    workspace_id: str
    everyone_id: str
    team_ids: list[str]
    resources: int = 0
    tables: list[TableRef] = field(default_factory=list)
    columns: list[tuple[str, int]] = field(default_factory=list)  # a sample of (column id, team index)
    fill_seconds: float = 0.0

    def visible_tables(self, team_ids: list[str]) -> list[TableRef]:
        """Warehouse tables whose Team is one of these."""
        wanted = {i for i, t in enumerate(self.team_ids) if t in team_ids}
        return [t for t in self.tables if t.team in wanted]


class _Writer:
    """Buffers rows of each table and writes them in chunks, parents before what points at them."""

    ORDER = (Resource, ResourceTeam, ResourceTag, ResourceOwner, Lineage, ResourceLink)

    def __init__(self, connection: Connection, workspace_id: str) -> None:
        self.connection, self.workspace_id, self.now = connection, workspace_id, utcnow()
        self.rows: dict[type, list[dict[str, Any]]] = {model: [] for model in self.ORDER}
        self.count = 0
        self.terms: set[str] = set()
        self.deferred: list[int] | None = connection.info.get(FTS_DEFERRED)
        self.first_rowid = 0
        if self.deferred is not None:  # SQLite: index in one statement at the end, as catalog.sync does
            self.first_rowid = int(
                connection.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM resource").scalar() or 0
            )
            self.deferred[0] = 1

    def resource(
        self,
        *,
        type: str,
        name: str,
        qualified_name: str,
        team_ids: list[str],
        integration_id: str | None = None,
        external_id: str | None = None,
        parent_id: str | None = None,
        description: str = "",
        tags: tuple[str, ...] = (),
        columns: list[tuple[str, str]] | None = None,
        **extra: Any,
    ) -> str:
        rid = new_id()
        search_name, search_body = index_fields(
            name=name,
            qualified_name=qualified_name,
            description=description,
            definition=extra.get("definition", ""),
            tags=tags,
            data_type=extra.get("data_type", ""),
            columns=columns or (),
        )
        if type != "column":
            self.terms |= terms_of(search_name, search_body)
        self.rows[Resource].append(
            {
                "id": rid,
                "workspace_id": self.workspace_id,
                "type": type,
                "name": name,
                "qualified_name": qualified_name,
                "integration_id": integration_id,
                "external_id": external_id,
                "parent_id": parent_id,
                "kind": "",
                "description": description,
                "source_description": description,
                "description_curated": False,
                "definition": "",
                "data_type": "",
                "ordinal": 0,
                "is_primary_key": False,
                "row_estimate": None,
                "source_popularity": 0.0,
                "query_count": 0,
                "properties": {},
                "source_tags": list(tags),
                "source_owner": "",
                "tags_curated": False,
                "owners_curated": False,
                "teams_curated": False,
                "sibling_id": None,
                "gate_id": None,
                "content_hash": "",
                "search_name": search_name,
                "search_body": search_body,
                **scope_of(team_ids),
                "created_at": self.now,
                "updated_at": self.now,
                "deleted_at": None,
                **extra,
            }
        )
        self.rows[ResourceTeam] += [
            {"workspace_id": self.workspace_id, "resource_id": rid, "team_id": t} for t in team_ids
        ]
        self.rows[ResourceTag] += [{"workspace_id": self.workspace_id, "resource_id": rid, "tag": t} for t in tags]
        self.count += 1
        if len(self.rows[Resource]) >= CHUNK:
            self.flush()
        return rid

    def add(self, model: type, **values: Any) -> None:
        self.rows[model].append({"workspace_id": self.workspace_id, **values})

    def flush(self) -> None:
        for model in self.ORDER:
            if self.rows[model]:
                self.connection.execute(cast(Table, model.__table__).insert(), self.rows[model])  # type: ignore[attr-defined]
                self.rows[model] = []
        self.connection.commit()

    def close(self) -> None:
        self.flush()
        if self.deferred is not None:
            self.deferred[0] = 0
            self.connection.exec_driver_sql(
                "INSERT INTO resource_fts(rowid, search_name, search_body, search_scope) "
                "SELECT rowid, search_name, search_body, search_scope FROM resource WHERE rowid > ?",
                (self.first_rowid,),
            )
        self.connection.execute(
            cast(Table, SearchTerm.__table__).insert(),
            [{"workspace_id": self.workspace_id, "term": t} for t in sorted(self.terms)],
        )
        self.connection.commit()


def _words(rng: random.Random, counts: tuple[int, ...]) -> str:
    return "_".join(rng.sample(WORDS, rng.choice(counts)))


def _integration(session: StoreSession, secret_key: str, name: str, type: str, config: dict[str, str]) -> str:
    integration = Integration(
        workspace_id=session.workspace_id,
        name=name,
        type=type,
        config_encrypted=crypto.encrypt(secret_key, json.dumps(config)),
    )
    session.add(integration)
    session.flush()
    return integration.id


def fill(url: str, total: int, *, secret_key: str, seed: int = 11, progress: Callable[[str], None] = print) -> Catalog:
    """Migrate a fresh store and write about `total` resources into a workspace `bench`."""
    rng = random.Random(seed)
    engine = make_engine(url)
    store.upgrade(engine)
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    with transaction(sessions) as session:
        workspace = identity.create_workspace(session=session, slug=SLUG, name="Bench")
        session.seal(workspace.id)
        operator = Caller.operator(workspace.id)
        everyone = identity.everyone_team(session, workspace.id).id
        team_ids = [identity.create_team(session=session, caller=operator, name=f"Team {i}").id for i in range(TEAMS)]
        owner_ids = [
            identity.add_member(
                session=session, caller=operator, email=f"owner{i}@bench.example.com", role=Role.editor
            )[1].id
            for i in range(5)
        ]
        warehouses = []
        for i, team in enumerate(team_ids):
            wid = _integration(
                session, secret_key, f"dwh{i}", "postgres", {"url": f"postgresql://bench@dwh{i}.internal/dwh{i}"}
            )
            session.add(IntegrationTeam(workspace_id=workspace.id, integration_id=wid, team_id=team))
            warehouses.append(wid)
        dbt = _integration(session, secret_key, "analytics (dbt)", "dbt", {"manifest_path": "/nowhere/manifest.json"})
    catalog = Catalog(url, engine, sessions, workspace.id, everyone, team_ids)
    with engine.connect() as connection:
        writer = _Writer(connection, workspace.id)
        schemas = []
        for i, wid in enumerate(warehouses):
            db = writer.resource(
                type="database",
                name=f"dwh{i}",
                qualified_name=f"dwh{i}",
                team_ids=[team_ids[i]],
                integration_id=wid,
                external_id=f"db:dwh{i}",
            )
            schemas.append(
                [
                    writer.resource(
                        type="schema",
                        name=f"s{s}",
                        qualified_name=f"dwh{i}.s{s}",
                        team_ids=[team_ids[i]],
                        integration_id=wid,
                        external_id=f"schema:s{s}",
                        parent_id=db,
                    )
                    for s in range(SCHEMAS)
                ]
            )
        taken: set[tuple[int, int, str]] = set()
        t = 0
        while writer.count < total:
            team, schema = t % TEAMS, (t // TEAMS) % SCHEMAS
            name = _words(rng, (1, 2, 2, 3))
            while (team, schema, name) in taken:
                name = f"{name}_{rng.randint(2, 99)}"
            taken.add((team, schema, name))
            _table(
                writer,
                catalog,
                rng,
                t,
                name,
                f"dwh{team}.s{schema}.{name}",
                warehouses[team],
                schemas[team][schema],
                team,
                owner_ids,
                dbt,
            )
            t += 1
            if t % 5000 == 0:
                progress(f"  {writer.count:,} resources in {time.perf_counter() - started:.0f} s")
        for g in range(max(5, total // 5000)):
            name = _words(rng, (2, 3)).replace("_", " ")
            term = writer.resource(
                type="glossary_term",
                name=f"{name} {g}",
                qualified_name=f"glossary.{name} {g}",
                team_ids=[everyone],
                description=" ".join(rng.sample(WORDS, 12)),
                definition=" ".join(rng.sample(WORDS, 20)),
            )
            for target in {rng.choice(catalog.tables).id for _ in range(3)}:
                writer.add(ResourceLink, source_id=term, target_id=target)
        writer.close()
        catalog.resources = writer.count
    catalog.fill_seconds = time.perf_counter() - started
    return catalog


def _table(
    writer: _Writer,
    catalog: Catalog,
    rng: random.Random,
    t: int,
    name: str,
    qualified: str,
    integration_id: str,
    schema_id: str,
    team: int,
    owner_ids: list[str],
    dbt: str,
) -> None:
    """One table or view with its columns, lineage, tags, owners and maybe a dbt face."""
    team_ids = [catalog.team_ids[team]]
    upstream: list[TableRef] = []
    if t >= TEAMS:
        for _ in range(rng.choice((1, 2, 2, 3, 3))):
            back = TEAMS * rng.randint(1, 8) if rng.random() < 0.8 else rng.randint(1, 80)
            if t - back >= 0:
                upstream.append(catalog.tables[t - back])
    upstream = list({u.id: u for u in upstream}.values())
    view = upstream and rng.random() < 0.15
    column_names, wanted = ["id"], rng.randint(4, 18)
    while len(column_names) < wanted:
        candidate = _words(rng, (1, 2, 2))
        if candidate not in column_names:
            column_names.append(candidate)
    descriptions = [" ".join(rng.sample(WORDS, 5)) if rng.random() < 0.3 else "" for _ in column_names]
    tags = (rng.choice(TABLE_TAGS),) if rng.random() < 0.08 else ()
    extra: dict[str, Any] = {
        "kind": "view" if view else "table",
        "row_estimate": None if view else rng.randint(0, 5_000_000),
        "source_popularity": float(rng.randint(0, 500)),
    }
    if view:
        extra["definition"] = f"select * from {' join '.join(u.qualified_name for u in upstream)}"
    tid = writer.resource(
        type="view" if view else "table",
        name=name,
        qualified_name=qualified,
        team_ids=team_ids,
        integration_id=integration_id,
        external_id=f"table:{qualified}",
        parent_id=schema_id,
        description=" ".join(rng.sample(WORDS, 8)) if rng.random() < 0.5 else "",
        tags=tags,
        columns=list(zip(column_names, descriptions, strict=True)),
        **extra,
    )
    catalog.tables.append(TableRef(tid, name, qualified, team))
    for u in upstream:
        writer.add(Lineage, upstream_id=u.id, downstream_id=tid, origin="sync")
    if rng.random() < 0.15:
        kind, owner = ("team", catalog.team_ids[team]) if rng.random() < 0.5 else ("user", rng.choice(owner_ids))
        writer.add(ResourceOwner, resource_id=tid, kind=kind, owner_id=owner)
    columns = []
    for ordinal, (column, description) in enumerate(zip(column_names, descriptions, strict=True), 1):
        cid = writer.resource(
            type="column",
            name=column,
            qualified_name=f"{qualified}.{column}",
            team_ids=team_ids,
            integration_id=integration_id,
            external_id=f"table:{qualified}/{column}",
            parent_id=tid,
            description=description,
            tags=("pii",) if rng.random() < 0.04 else (),
            data_type=rng.choice(DATA_TYPES),
            ordinal=ordinal,
            is_primary_key=ordinal == 1,
            properties={"nullable": ordinal != 1},
        )
        columns.append((cid, column))
        if rng.random() < 0.01:
            catalog.columns.append((cid, team))
    catalog.tables[-1].column_ids = [cid for cid, _ in columns]
    _column_lineage(writer, random.Random(t), upstream, catalog.tables[-1])
    if rng.random() < 1 / 8:
        _dbt_face(writer, catalog, tid, name, qualified, columns[:3], dbt, view=bool(view))


def _column_lineage(writer: _Writer, rng: random.Random, upstream: list[TableRef], table: TableRef) -> None:
    """Each column computed from a column upstream, and one upstream column filtering the table (own rng:
    the catalog drawn by the main one stays the same)."""
    sources = [u for u in upstream if u.column_ids]
    if not sources:
        return
    for cid in table.column_ids:
        writer.add(Lineage, upstream_id=rng.choice(rng.choice(sources).column_ids), downstream_id=cid, origin="sync")
    writer.add(Lineage, upstream_id=sources[0].column_ids[0], downstream_id=table.id, origin="sync", kind="filter")


def _dbt_face(
    writer: _Writer,
    catalog: Catalog,
    table_id: str,
    name: str,
    qualified: str,
    columns: list[tuple[str, str]],
    dbt: str,
    *,
    view: bool,
) -> None:
    """A dbt model building the table, linked as catalog.links would link it (Everyone sees dbt; the gate decides)."""
    unique_id = f"model.analytics.{name}_{len(catalog.tables)}"
    node = writer.resource(
        type="view" if view else "table",
        name=name,
        qualified_name=unique_id,
        team_ids=[catalog.everyone_id],
        integration_id=dbt,
        external_id=f"node:{unique_id}",
        kind="model",
        properties={"unique_id": unique_id, "relation": qualified, "materialized": "view" if view else "table"},
        sibling_id=table_id,
        gate_id=table_id,
    )
    writer.add(Lineage, upstream_id=node, downstream_id=table_id, origin="dbt_link")
    for ordinal, (column_id, column) in enumerate(columns, 1):
        writer.resource(
            type="column",
            name=column,
            qualified_name=f"{unique_id}.{column}",
            team_ids=[catalog.everyone_id],
            integration_id=dbt,
            external_id=f"node:{unique_id}/{column}",
            parent_id=node,
            ordinal=ordinal,
            sibling_id=column_id,
            gate_id=column_id,
        )


def add_people(
    catalog: Catalog, count: int, *, role: Role = Role.viewer, password: str | None = None, seed: int = 3
) -> list[Person]:
    """Members in Everyone and 5 of the 10 Teams (admins: in all), each with an API token."""
    rng = random.Random(seed)
    people = []
    password_hash = hash_password(password) if password else None  # once: Argon2 costs ~0.1-0.5 s a hash
    with transaction(catalog.sessions, catalog.workspace_id) as session:
        operator = Caller.operator(catalog.workspace_id)
        for i in range(count):
            email = f"{role.value}{i}@bench.example.com"
            membership, user = identity.add_member(session=session, caller=operator, email=email, role=role)
            membership.password_hash = password_hash
            teams = catalog.team_ids if role == Role.admin else rng.sample(catalog.team_ids, 5)
            for team in teams:
                identity.add_team_member(session=session, caller=operator, team_id=team, user_id=user.id)
            caller = Caller(workspace_id=catalog.workspace_id, user_id=user.id, role=role.value)
            _, token = identity.create_token(session=session, caller=caller, name="bench")
            people.append(Person(user.id, email, password or "", role.value, token, [catalog.everyone_id, *teams]))
    return people


def analyze_like_a_sync(catalog: Catalog) -> str:
    """Call datadesk.db.analyze as a sync would, if the app has one; say what was done."""
    from datadesk import db

    analyze = getattr(db, "analyze", None)
    if analyze is None:
        return "none (datadesk.db has no analyze)"
    offered: dict[str, Callable[[], Any]] = {
        "engine": lambda: catalog.engine,
        "bind": lambda: catalog.engine,
        "sessions": lambda: catalog.sessions,
        "factory": lambda: catalog.sessions,
    }
    parameters = list(inspect.signature(analyze).parameters.values())
    if not parameters:
        analyze()
        return "datadesk.db.analyze()"
    first = parameters[0]

    def call(value: Any) -> None:
        if first.kind == first.KEYWORD_ONLY:
            analyze(**{first.name: value})
        else:
            analyze(value)

    if first.name in offered:
        call(offered[first.name]())
    else:
        with transaction(catalog.sessions, catalog.workspace_id) as session:
            call(session.connection() if first.name in ("connection", "conn") else session)
    return f"datadesk.db.analyze({first.name})"


def planner_statistics(engine: Engine) -> str:
    """Whether the planner has statistics of `resource` now (none right after a fill unless something analysed)."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            has = connection.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
            if not has:
                return "no sqlite_stat1"
            stats = connection.scalars(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'resource'")).all()
            rows = max((int(stat.split()[0]) for stat in stats), default=0)
            return f"sqlite_stat1: ~{rows:,} resources" if stats else "sqlite_stat1 has no resource rows"
        row = connection.execute(
            text(
                "SELECT coalesce(last_analyze, last_autoanalyze) IS NOT NULL, n_mod_since_analyze, n_live_tup "
                "FROM pg_stat_user_tables WHERE relname = 'resource'"
            )
        ).first()
        if row is None or not row[0]:
            return "resource never analysed"
        return f"resource analysed; {row[1]:,} rows changed since"


def source_state() -> str:
    """The commit measured and whether the working tree differed from it; else where datadesk was imported from."""
    import datadesk

    root = Path(__file__).resolve().parents[1]
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(Path(datadesk.__file__).parent)
