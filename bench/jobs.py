"""Jobs on one PostgreSQL store: many scheduled syncs on real workers, and a big sync beside a serving process.

A fresh PostgreSQL database; one `datadesk serve --no-worker` and --workers `datadesk worker` processes.
--integrations SQLite sources (5 tables each) are added through the API, each scheduled every minute.
For --ticks minute ticks it measures, from the sync runs the workers record:
    jobs/s        scheduled runs finished per second of a tick's busy span (first start to last finish)
    delay         from the tick (the minute) to the run's start, p50/p95
Then a --big-tables SQLite source is synced on a worker while `serve` answers requests: the resident memory of
`serve` idle and at its peak during the sync (read from /proc), which should stay at its idle size.

    .venv/bin/python bench/jobs.py [--integrations 200] [--workers 2] [--ticks 2] [--big-tables 20000]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.dbs import fresh_pg_database
from tests.processes import DATADESK, free_port, stop, wait_until_up

from datadesk.catalog.models import SyncRun
from datadesk.db import make_engine, make_sessionmaker, transaction

SECRET = "bench-secret-key-not-for-production-0123456789"


def source(path: Path, tables: int, columns: int = 6) -> Path:
    connection = sqlite3.connect(path)
    cols = ", ".join(["id INTEGER PRIMARY KEY", *(f"c{i} TEXT" for i in range(1, columns))])
    connection.executescript("".join(f"CREATE TABLE t{i:05d} ({cols});" for i in range(tables)))
    connection.close()
    return path


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--integrations", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ticks", type=int, default=2)
    parser.add_argument("--big-tables", type=int, default=20000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dd-bench-jobs-"))
    sources = root / "sources"
    sources.mkdir()
    processes: list[subprocess.Popen[bytes]] = []
    with fresh_pg_database("dd_bench_jobs") as url:
        env = {**os.environ, "DATADESK_HOME": str(root / "home"), "DATADESK_SECRET_KEY": SECRET}
        env.update({"DATADESK_DATABASE_URL": url, "DATADESK_SOURCES_DIR": str(sources)})
        subprocess.run(
            [
                DATADESK,
                "init",
                "--workspace",
                "acme",
                "--admin-email",
                "a@acme.com",
                "--admin-password",
                "bench-pw-123",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        token = subprocess.run(
            [DATADESK, "tokens", "create", "-w", "acme", "--email", "a@acme.com"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        headers = {"authorization": f"Bearer {token}"}
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        try:
            port = free_port()
            log = (root / "serve.log").open("w")
            serve = subprocess.Popen(
                [DATADESK, "serve", "--no-worker", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            processes.append(serve)
            api = f"http://127.0.0.1:{port}/api/v1"
            wait_until_up(serve, f"http://127.0.0.1:{port}")
            print(f"adding {args.integrations} scheduled integrations...")
            with httpx.Client(headers=headers, timeout=60) as client:
                for i in range(args.integrations):
                    path = source(sources / f"s{i:04d}.db", 5)
                    body = {
                        "name": f"s{i:04d}",
                        "type": "sqlite",
                        "config": {"url": f"sqlite:///{path}"},
                        "schedule": "* * * * *",
                    }
                    client.post(f"{api}/integrations", json=body).raise_for_status()
            for _ in range(args.workers):
                processes.append(
                    subprocess.Popen(
                        [DATADESK, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                )
            wait = 60 * args.ticks + 65 - time.time() % 60
            print(f"{args.workers} workers started; waiting {wait:.0f} s for {args.ticks} ticks...")
            time.sleep(wait)
            with httpx.Client(headers=headers, timeout=60) as client:  # no more ticks while the big sync runs
                for i in client.get(f"{api}/integrations").json()["integrations"]:
                    client.patch(f"{api}/integrations/{i['id']}", json={"schedule": None}).raise_for_status()
            with transaction(sessions) as session:
                runs = list(
                    session.scalars(
                        select(SyncRun).where(SyncRun.trigger == "schedule").execution_options(all_workspaces=True)
                    )
                )
            by_tick: dict[object, list[SyncRun]] = {}
            for run in runs:
                by_tick.setdefault(run.created_at.replace(second=0, microsecond=0), []).append(run)
            delays, rates = [], []
            for tick, group in sorted(by_tick.items()):
                done = [r for r in group if r.status == "succeeded" and r.started_at and r.finished_at]
                if len(done) < len(group) or not done:
                    continue
                delays += [(r.started_at - tick).total_seconds() for r in done]  # type: ignore[operator]
                span = max(r.finished_at for r in done) - min(r.started_at for r in done)  # type: ignore[type-var]
                rates.append(len(done) / max(span, timedelta(milliseconds=1)).total_seconds())
                print(f"tick {tick:%H:%M}: {len(done)} runs, {len(done) / span.total_seconds():.1f} jobs/s")
            failed = sum(1 for r in runs if r.status == "failed")
            print(f"scheduled runs: {len(runs)} ({failed} failed) over {len(by_tick)} ticks")
            if delays:
                print(
                    f"jobs/s {statistics.mean(rates):.1f}; tick to start p50 {pct(delays, 0.5):.2f} s, "
                    f"p95 {pct(delays, 0.95):.2f} s"
                )
            print(f"building a {args.big_tables}-table source...")
            big = source(sources / "big.db", args.big_tables, 8)
            with httpx.Client(headers=headers, timeout=120) as client:
                body = {"name": "big", "type": "sqlite", "config": {"url": f"sqlite:///{big}"}}
                big_id = client.post(f"{api}/integrations", json=body).json()["id"]
                idle = rss_mib(serve.pid)
                run = client.post(f"{api}/integrations/{big_id}/sync").json()
                peak, started = idle, time.monotonic()
                while run["status"] in ("queued", "running"):
                    client.get(f"{api}/resources", params={"limit": 50})
                    peak = max(peak, rss_mib(serve.pid))
                    time.sleep(0.2)
                    run = client.get(f"{api}/integrations/{big_id}/syncs/{run['id']}").json()
            print(
                f"big sync {run['status']} in {time.monotonic() - started:.0f} s on {run['worker']}; "
                f"serve RSS idle {idle:.0f} MiB, peak during the sync {peak:.0f} MiB"
            )
        finally:
            for process in processes:
                if process.poll() is None:
                    stop(process)
            engine.dispose()


if __name__ == "__main__":
    main()
