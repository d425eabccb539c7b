"""Time a first sync and a no-change re-sync of a big PostgreSQL database into the catalog store.

Generates a throwaway PostgreSQL database (default 2,000 tables in 3 schemas, 8-25 columns each,
comments on half, keys, 50 views), then, in a child process so the peak RSS is the sync's alone:
a first sync (connector read, store writes and search index) and a no-change re-sync. The store is
SQLite (the embedded default) or a throwaway PostgreSQL database (--store postgres).

    .venv/bin/python bench/ingest_postgres.py [--tables 2000] [--views 50] [--store sqlite|postgres]
    .venv/bin/python bench/ingest_postgres.py --vs-datahub --datahub-venv /path/to/venv

--vs-datahub times DataHub's own postgres ingestion of the same database to a file sink, with the
`datahub` CLI of a separate virtualenv that has `acryl-datahub[postgres]` installed, and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from connector_postgres_read import build_ddl


def run_syncs(source_url: str, store_url: str) -> dict[str, float]:
    """In this process: migrate a store, add the source, sync twice; return timings and peak RSS."""
    from datadesk import store
    from datadesk.access.caller import Caller
    from datadesk.catalog import integrations, sync
    from datadesk.db import make_engine, make_sessionmaker, transaction
    from datadesk.identity import service as identity
    from datadesk.settings import Settings

    settings = Settings(database_url=store_url, secret_key="bench-secret-key-0123456789abcdef")
    engine = make_engine(store_url)
    store.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        workspace = identity.create_workspace(session=session, slug="bench", name="Bench")
        session.seal(workspace.id)
        caller = Caller.operator(workspace.id)
        integration_id = integrations.create_integration(
            session=session,
            caller=caller,
            settings=settings,
            name="pg",
            type="postgres",
            config={"url": source_url},
            team_ids=[],
        ).id
    caller = Caller.operator(workspace.id)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    numbers: dict[str, float] = {"rss_before_mib": rss_before}
    for label in ("first", "resync"):
        started = time.perf_counter()
        run, _ = sync.run_now(sessions, settings, caller, integration_id)
        numbers[f"{label}_seconds"] = time.perf_counter() - started
        if run.status != "succeeded":
            raise SystemExit(f"sync failed: {run.error}")
        numbers.update({f"{label}_{k}": v for k, v in run.stats.items() if isinstance(v, int)})
    numbers["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.dispose()
    return numbers


def datahub(source_url: str, venv: Path, workdir: Path) -> float:
    """Seconds DataHub's postgres source takes to ingest the same database into a file sink."""
    from sqlalchemy.engine import make_url

    url = make_url(source_url)
    recipe = workdir / "recipe.json"
    recipe.write_text(
        json.dumps(
            {
                "source": {
                    "type": "postgres",
                    "config": {
                        "host_port": f"{url.host}:{url.port or 5432}",
                        "database": url.database,
                        "username": url.username,
                        "password": url.password or "",
                        "include_views": True,
                        "profiling": {"enabled": False},
                    },
                },
                "sink": {"type": "file", "config": {"filename": str(workdir / "datahub.json")}},
            }
        )
    )
    started = time.perf_counter()
    subprocess.run(
        [str(venv / "bin" / "datahub"), "ingest", "-c", str(recipe)], check=True, capture_output=True, text=True
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--views", type=int, default=50)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--vs-datahub", action="store_true", help="also time DataHub's ingestion")
    parser.add_argument("--datahub-venv", type=Path, help="virtualenv with acryl-datahub[postgres] installed")
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_syncs(*args.child)))
        return
    if args.vs_datahub and not (args.datahub_venv and (args.datahub_venv / "bin" / "datahub").exists()):
        parser.error("--vs-datahub needs --datahub-venv pointing at a virtualenv with the datahub CLI")

    import psycopg
    from tests.dbs import fresh_pg_database

    with fresh_pg_database("dd_bench_src") as source, tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with psycopg.connect(source.replace("+psycopg", ""), autocommit=True) as conn:
            for script in build_ddl(args.tables, args.views):
                conn.execute(script.encode())
            conn.execute("ANALYZE")
        print(f"source: {args.tables} tables, {args.views} views, built in {time.perf_counter() - started:.1f} s")
        if args.store == "postgres":
            store_cm = fresh_pg_database("dd_bench_store")
        else:
            from contextlib import nullcontext

            store_cm = nullcontext(f"sqlite:///{tmp}/store.db")
        with store_cm as store_url:
            out = subprocess.run(
                [sys.executable, __file__, "--child", source, store_url], check=True, capture_output=True, text=True
            ).stdout
        numbers = json.loads(out.strip().splitlines()[-1])
        print(f"store: {args.store}")
        print(f"first sync: {numbers['first_seconds']:.2f} s ({numbers['first_created']} resources created)")
        print(
            f"no-change re-sync: {numbers['resync_seconds']:.2f} s ({numbers['resync_created']} created, "
            f"{numbers['resync_updated']} updated, {numbers['resync_deleted']} deleted)"
        )
        print(
            f"peak RSS: {numbers['peak_rss_mib']:.0f} MiB (process before syncing: {numbers['rss_before_mib']:.0f} MiB)"
        )
        if args.vs_datahub:
            seconds = datahub(source, args.datahub_venv, Path(tmp))
            print(
                f"DataHub postgres source to a file sink: {seconds:.2f} s; "
                f"datadesk first sync is {seconds / numbers['first_seconds']:.1f}x faster"
            )


if __name__ == "__main__":
    main()
