"""Search latency on a big store: fills it with N resources and times /search's service for 200 queries.

The resources are tables and columns named from a vocabulary of real table and column words (Spider's
schemas when --spider points at them, else a built-in list), spread over 10 Teams; the caller is in 5
of them, so half of what matches is not theirs and must be filtered inside the query.

    .venv/bin/python bench/search.py [--resources 1000000] [--store sqlite|postgres] [--spider PATH/tables.json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _catalog import WORDS


def vocabulary(spider: Path | None) -> list[str]:
    if spider is None:
        return WORDS
    from datadesk.catalog.search import words

    found: set[str] = set()
    for database in json.loads(spider.read_text()):
        for name in database["table_names_original"] + [c for _, c in database["column_names_original"]]:
            found.update(w for w in words(name) if len(w) > 2)
    return sorted(found)


def fill(store_url: str, total: int, vocab: list[str], seed: int = 11) -> tuple[Any, Any]:
    """Migrate a store and bulk-insert `total` resources with their Teams and search fields."""
    from sqlalchemy import Table

    from datadesk import store
    from datadesk.catalog.models import Resource, ResourceTeam, SearchTerm
    from datadesk.catalog.search import index_fields, terms_of
    from datadesk.catalog.search_index import scope_of
    from datadesk.db import make_engine, make_sessionmaker, new_id, transaction, utcnow
    from datadesk.identity import service as identity
    from datadesk.identity.models import Team

    rng = random.Random(seed)
    engine = make_engine(store_url)
    store.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        workspace = identity.create_workspace(session=session, slug="bench", name="Bench")
        session.seal(workspace.id)
        teams = [Team(workspace_id=workspace.id, name=f"Team {i}") for i in range(10)]
        session.add_all(teams)
        session.flush()
        team_ids = [t.id for t in teams]
    resource_table = cast(Table, Resource.__table__)
    team_table = cast(Table, ResourceTeam.__table__)
    now = utcnow()
    terms: set[str] = set()
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    table_name = ""
    with engine.begin() as connection:
        for i in range(total):
            is_table = i % 12 == 0
            if is_table:
                table_name = "_".join(rng.sample(vocab, rng.choice((1, 2, 2, 3))))
            name = table_name if is_table else "_".join(rng.sample(vocab, rng.choice((1, 2, 2))))
            qualified = f"dwh.s{i % 7}.{table_name}" + ("" if is_table else f".{name}")
            description = " ".join(rng.sample(vocab, 6)) if rng.random() < 0.5 else ""
            search_name, search_body = index_fields(name=name, qualified_name=qualified, description=description)
            terms |= terms_of(search_name)
            team = team_ids[i % 10]
            rid = new_id()
            batch.append(
                {
                    "id": rid,
                    "workspace_id": workspace.id,
                    "type": "table" if is_table else "column",
                    "name": name,
                    "qualified_name": qualified,
                    "description": description,
                    "source_description": description,
                    "source_popularity": float(rng.randint(0, 500)) if is_table else 0.0,
                    "search_name": search_name,
                    "search_body": search_body,
                    **scope_of([team]),
                    "created_at": now,
                    "updated_at": now,
                    "properties": {},
                    "source_tags": [],
                }
            )
            links.append({"workspace_id": workspace.id, "resource_id": rid, "team_id": team})
            if len(batch) == 20_000:
                connection.execute(resource_table.insert(), batch)
                connection.execute(team_table.insert(), links)
                batch, links = [], []
                print(f"  {i + 1:,} resources in {time.perf_counter() - started:.0f} s", flush=True)
        if batch:
            connection.execute(resource_table.insert(), batch)
            connection.execute(team_table.insert(), links)
        connection.execute(
            cast(Table, SearchTerm.__table__).insert(),
            [{"workspace_id": workspace.id, "term": t} for t in sorted(terms)],
        )
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")
        else:
            connection.exec_driver_sql("ANALYZE")
    print(f"filled {total:,} resources in {time.perf_counter() - started:.0f} s")
    return sessions, (workspace.id, team_ids)


def reuse(store_url: str) -> tuple[Any, Any]:
    from sqlalchemy import select

    from datadesk.db import make_engine, make_sessionmaker
    from datadesk.identity.models import Team, Workspace

    sessions = make_sessionmaker(make_engine(store_url))
    with sessions() as session:
        workspace_id = session.scalar(select(Workspace.id).where(Workspace.slug == "bench"))
        team_ids = list(
            session.scalars(
                select(Team.id)
                .where(Team.workspace_id == workspace_id, Team.is_everyone.is_(False))
                .order_by(Team.name)
                .execution_options(all_workspaces=True)
            )
        )
    return sessions, (workspace_id, team_ids)


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=1_000_000)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--spider", type=Path, help="Spider tables.json, for a real vocabulary")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--keep",
        metavar="SQLITE_PATH",
        type=Path,
        help="fill this SQLite file once and reuse it on later runs (sqlite store only)",
    )
    args = parser.parse_args()

    from tests.dbs import fresh_pg_database

    from datadesk.access.caller import Caller
    from datadesk.catalog.search import search
    from datadesk.db import transaction

    vocab = vocabulary(args.spider)
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        store_cm = (
            fresh_pg_database("dd_bench_search")
            if args.store == "postgres"
            else nullcontext(f"sqlite:///{args.keep or Path(tmp) / 'store.db'}")
        )
        with store_cm as store_url:
            if args.keep and args.keep.exists():
                sessions, (workspace_id, team_ids) = reuse(store_url)
            else:
                sessions, (workspace_id, team_ids) = fill(store_url, args.resources, vocab)
            caller = Caller(workspace_id=workspace_id, user_id="bench", role="viewer", team_ids=frozenset(team_ids[:5]))
            queries = []
            for _ in range(args.queries):
                picked = rng.sample(vocab, rng.choice((1, 1, 2, 2, 3)))
                if rng.random() < 0.15:
                    picked[0] = typo(picked[0], rng)
                if rng.random() < 0.2:
                    picked[-1] = picked[-1][: max(3, len(picked[-1]) - 2)]  # as typed, unfinished
                queries.append(" ".join(picked))
            timings, hits = [], []
            with transaction(sessions, workspace_id) as session:
                search(session=session, caller=caller, q="warm up")
                for q in queries:
                    started = time.perf_counter()
                    found = search(session=session, caller=caller, q=q, limit=20)
                    timings.append((time.perf_counter() - started) * 1000)
                    hits.append(len(found))
            timings.sort()
            p50 = statistics.median(timings)
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(f"store: {args.store}; {args.resources:,} resources; caller sees 5 of 10 Teams")
            print(
                f"{len(queries)} queries: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {timings[-1]:.1f} ms; "
                f"queries with results: {sum(1 for h in hits if h)}"
            )


if __name__ == "__main__":
    main()
