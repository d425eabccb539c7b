"""Retrieval quality: recall@5/@10 of the gold tables among what the assistant would send, and bytes sent.

Loads into one workspace the schemas of all 20 Spider dev databases and all 11 BIRD mini-dev databases
(names, types, keys and the human-written column descriptions only: BIRD's sample values and statistics
are data, not metadata, and stay out), through the same sync code a real source goes through. Then for
every question it ranks tables as the assistant does, and measures the first request's size.

    .venv/bin/python bench/retrieval.py [--data ../shared/data] [--store sqlite|postgres] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datadesk import crypto, store
from datadesk.access.caller import Caller
from datadesk.ai import egress, retrieval, tools
from datadesk.catalog import semantic
from datadesk.catalog.apply import apply
from datadesk.catalog.models import Integration
from datadesk.connectors.base import ColumnMeta, ForeignKey, Snapshot, TableMeta
from datadesk.db import make_engine, make_sessionmaker, transaction
from datadesk.identity import service as identity

SECRET = "bench-secret-key-0123456789abcdef"


def spider_snapshots(data: Path, wanted: set[str]) -> list[Snapshot]:
    snapshots = []
    for db in json.loads((data / "spider_dev" / "tables.json").read_text()):
        if db["db_id"] not in wanted:
            continue
        tables = [TableMeta(schema="main", name=name) for name in db["table_names_original"]]
        names = db["column_names_original"]
        pks = set(db["primary_keys"])
        for index, ((table_index, column), kind) in enumerate(zip(names, db["column_types"], strict=True)):
            if table_index < 0:
                continue
            tables[table_index].columns.append(
                ColumnMeta(
                    name=column,
                    data_type=kind,
                    ordinal=len(tables[table_index].columns) + 1,
                    is_primary_key=index in pks,
                )
            )
        for source, target in db["foreign_keys"]:
            (s_table, s_col), (t_table, t_col) = names[source], names[target]
            tables[s_table].foreign_keys.append(
                ForeignKey([s_col], "main", db["table_names_original"][t_table], [t_col])
            )
        snapshots.append(Snapshot(database=db["db_id"], schemas={"main": ""}, tables=tables))
    return snapshots


def bird_snapshots(data: Path) -> list[Snapshot]:
    snapshots = []
    for db in json.loads((data / "bird_minidev" / "dev_tables_cleaned_with_descriptions.json").read_text()):
        tables = []
        for table in db["tables"]:
            meta = TableMeta(schema="main", name=table["name"])
            for ordinal, column in enumerate(table["columns"], 1):
                # Human-written meaning only; sample values, min/max and counts are data and stay out.
                words = [column.get("original_name") or "", column.get("description") or ""]
                description = "; ".join(dict.fromkeys(w.strip() for w in words if w and w.strip()))
                meta.columns.append(
                    ColumnMeta(
                        name=column["name"],
                        data_type=column.get("type") or "",
                        description=description,
                        ordinal=ordinal,
                        is_primary_key=column["name"] in (table.get("primary_key") or []),
                    )
                )
                for fk in column.get("foreign_keys") or []:
                    meta.foreign_keys.append(
                        ForeignKey([column["name"]], "main", fk["reference_table"], [fk["reference_column"]])
                    )
            tables.append(meta)
        snapshots.append(Snapshot(database=db["name"], schemas={"main": ""}, tables=tables))
    return snapshots


def spider_questions(data: Path) -> list[tuple[str, str, set[str]]]:
    found = []
    for item in json.loads((data / "spider_dev" / "dev.json").read_text()):
        tree = sqlglot.parse_one(item["query"], read="sqlite")
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        gold = {t.name.lower() for t in tree.find_all(exp.Table) if t.name and t.name.lower() not in ctes}
        found.append((item["db_id"], item["question"], gold))
    return found


def bird_questions(data: Path) -> list[tuple[str, str, set[str]]]:
    return [
        (
            item["db_id"],
            f"{item['question']} {item.get('evidence') or ''}".strip(),
            {t.lower() for t in item["sql_refs"]["tables"]},
        )
        for item in json.loads((data / "bird_minidev" / "mini_dev_refs.json").read_text())
    ]


def load(sessions: Any, snapshots: list[Snapshot]) -> tuple[str, dict[str, tuple[str, str]]]:
    """One workspace holding every database; returns its id and resource id -> (database, table)."""
    with transaction(sessions) as session:
        workspace = identity.create_workspace(session=session, slug="bench", name="Bench")
        session.seal(workspace.id)
        for snapshot in snapshots:
            integration = Integration(
                workspace_id=workspace.id,
                name=snapshot.database,
                type="sqlite",
                config_encrypted=crypto.encrypt(SECRET, json.dumps({"url": "sqlite:///x"})),
            )
            session.add(integration)
            session.flush()
            apply(session, integration, snapshot)
        from sqlalchemy import select

        from datadesk.catalog.models import Resource

        rows = session.execute(select(Resource.id, Resource.qualified_name).where(Resource.type.in_(("table", "view"))))
        tables = {rid: (q.split(".")[0], q.split(".")[-1].lower()) for rid, q in rows}
        integration_ids = list(session.scalars(select(Integration.id)))
    # As a sync does once its snapshot is applied: embed the cards (when this server has the model).
    started = time.perf_counter()
    embedded = sum(semantic.refresh_integration(sessions, workspace.id, i) for i in integration_ids)
    print(f"embedded {embedded} cards in {time.perf_counter() - started:.1f} s")
    return workspace.id, tables


def measure(
    sessions: Any, workspace_id: str, tables: dict[str, tuple[str, str]], questions: list[tuple[str, str, set[str]]]
) -> dict[str, float]:
    recall5, recall10, sizes, timings = [], [], [], []
    with transaction(sessions, workspace_id) as session:
        from sqlalchemy import select

        from datadesk.identity.models import Team

        caller = Caller.operator(workspace_id, frozenset(session.scalars(select(Team.id))))
        policy = egress.Policy(external=True, sensitive_tags=("pii", "sensitive", "restricted"))
        specs = [tools.SEARCH_CATALOG, tools.GET_RESOURCE, tools.LIST_RESOURCES, tools.RUN_SQL]
        for db, question, gold in questions:
            started = time.perf_counter()
            cards = retrieval.retrieve(session, caller, question, policy)
            timings.append(time.perf_counter() - started)
            ranked = [tables[c["id"]] for c in cards if c["id"] in tables]
            wanted = {(db, t) for t in gold}
            recall5.append(len(wanted & set(ranked[:5])) / len(wanted))
            recall10.append(len(wanted & set(ranked[:10])) / len(wanted))
            conversation = egress.Conversation(
                model="m", custom_instructions="", question=question, history=[], context=cards, tools=specs
            )
            sizes.append(len(egress.canonical_bytes(conversation.request())))
    return {
        "questions": len(questions),
        "recall@5": statistics.mean(recall5),
        "recall@10": statistics.mean(recall10),
        "mean_bytes": statistics.mean(sizes),
        "p95_bytes": sorted(sizes)[int(len(sizes) * 0.95) - 1],
        "mean_ms": statistics.mean(timings) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--limit", type=int, help="only the first N questions of each set")
    args = parser.parse_args()
    spider_q = spider_questions(args.data)
    bird_q = bird_questions(args.data)
    if args.limit:
        spider_q, bird_q = spider_q[: args.limit], bird_q[: args.limit]
    snapshots = spider_snapshots(args.data, {db for db, _, _ in spider_q}) + bird_snapshots(args.data)
    from tests.dbs import fresh_pg_database

    with tempfile.TemporaryDirectory() as tmp:
        store_cm = (
            fresh_pg_database("dd_bench_rag") if args.store == "postgres" else nullcontext(f"sqlite:///{tmp}/store.db")
        )
        with store_cm as url:
            engine = make_engine(url)
            store.upgrade(engine)
            sessions = make_sessionmaker(engine)
            workspace_id, tables = load(sessions, snapshots)
            per_db = defaultdict(int)
            for db, _ in tables.values():
                per_db[db] += 1
            print(f"loaded {len(snapshots)} databases, {len(tables)} tables into one workspace ({args.store})")
            for name, questions in (("Spider dev", spider_q), ("BIRD mini-dev", bird_q)):
                result = measure(sessions, workspace_id, tables, questions)
                print(
                    f"{name}: {result['questions']} questions; recall@5 {result['recall@5']:.3f}, "
                    f"recall@10 {result['recall@10']:.3f}; first request {result['mean_bytes'] / 1024:.1f} KB "
                    f"mean, {result['p95_bytes'] / 1024:.1f} KB p95; retrieval {result['mean_ms']:.0f} ms mean"
                )
            engine.dispose()


if __name__ == "__main__":
    main()
