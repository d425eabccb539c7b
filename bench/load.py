"""Many people at once: a real `datadesk serve` under N concurrent clients, per route latency and errors.

A fresh store (a SQLite file in a temp DATADESK_HOME, or a new PostgreSQL database dropped at the end) is filled
by bench/_catalog.py (10 Teams, lineage, tags, owners, dbt faces) and given one viewer per client, each in
Everyone and 5 Teams, with a password and an API token, and an admin. Then `datadesk serve` starts on a free port
and, for each client count, that many threads (one person each, httpx) loop for --seconds over a mix of:

    resource   GET /api/v1/resources/{id}                 (a table or column the person sees)
    list       GET /api/v1/resources?limit=50             (first page, or the next page of their last list)
    search     GET /api/v1/search?q=...
    lineage    GET /api/v1/resources/{id}/lineage?depth=3
    ask        POST /api/v1/ai/ask                        (local provider)
    page       GET /resources/{id}                        (HTML, with the session cookie of a real login)

Questions per minute is set to 0 (no limit) by the admin unless --keep-ask-limit: one client asks far more
often than a person would. With --with-sync, a SQLite source of --sync-tables tables is added and synced once,
then, during the load, changed (tables dropped, created, altered) and synced again every --sync-every seconds
through the API, to show whether reads wait for a sync.

    .venv/bin/python bench/load.py --clients 5,50 --seconds 60 --store sqlite|postgres [--with-sync]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from _catalog import (
    SLUG,
    WORDS,
    Catalog,
    Person,
    TableRef,
    add_people,
    analyze_like_a_sync,
    fill,
    planner_statistics,
    source_state,
)
from rich.console import Console
from rich.table import Table
from tests.dbs import fresh_pg_database

from datadesk.identity.models import Role

MIX = {"resource": 25, "list": 15, "search": 25, "lineage": 10, "ask": 10, "page": 15}
READS = ("resource", "list", "search", "lineage", "page")
PASSWORD = "bench-password-123"
QUESTIONS = (
    "Who owns {t}?",
    "What feeds {t}?",
    "Describe {t}",
    "Which tables have a column like {w}?",
    "Which tables are tagged pii?",
    "What are the most popular tables?",
)
_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')
_TAG = re.compile(r"<[^>]+>")
_EXCEPTION = re.compile(r"^((?:\w+\.)*\w*(?:Error|Exception|Timeout)\w*): (.{0,120})")
console = Console(width=None if sys.stdout.isatty() else 150)


@dataclass
class Sample:
    route: str
    status: str  # the HTTP status, or the exception's name when no response came
    ms: float
    started: float  # time.monotonic()
    detail: str = ""


@dataclass
class Client:
    person: Person
    http: httpx.Client
    tables: list[TableRef]
    columns: list[str]
    rng: random.Random
    cursor: str | None = None
    samples: list[Sample] = field(default_factory=list)


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(env: dict[str, str], port: int, workers: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`datadesk serve` on the port until the block ends; then SIGTERM, and SIGKILL after 15 s."""
    command = [str(Path(sys.executable).with_name("datadesk")), "serve", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"datadesk serve exited with {process.returncode}; see {log}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"datadesk serve did not answer within 120 s; see {log}")
                time.sleep(0.3)
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
        console.print(f"server stopped on SIGTERM in {time.monotonic() - started:.1f} s", highlight=False)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        console.print("[red]server still running 15 s after SIGTERM; killed[/red]")


def server_exceptions(log: Path) -> Counter[str]:
    """Exception lines the server logged (tracebacks' last lines), by type and the start of their message."""
    found: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        match = _EXCEPTION.match(line)
        if match:
            found[f"{match.group(1)}: {match.group(2)[:80]}"] += 1
    return found


# --- the people -------------------------------------------------------------------------------


def logged_in(base: str, person: Person, tables: list[TableRef], columns: list[str], seed: int) -> Client:
    """An httpx client with the person's token, and the session cookie of a real login for pages."""
    # Drop idle connections before uvicorn does (after 5 s), so a reused one is never reset under us.
    http = httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(keepalive_expiry=3))
    form = http.get("/login")
    match = _CSRF.search(form.text)
    if match is None:
        raise RuntimeError("no csrf_token on /login")
    response = http.post(
        "/login",
        data={
            "email": person.email,
            "password": PASSWORD,
            "workspace": SLUG,
            "csrf_token": match.group(1),
            "next": "/",
        },
    )
    if response.status_code != 303:
        raise RuntimeError(f"login of {person.email} answered {response.status_code}: {response.text[:200]}")
    return Client(person, http, tables, columns, random.Random(seed))


def request(client: Client, route: str) -> httpx.Response:
    rng, http = client.rng, client.http
    auth = {"Authorization": f"Bearer {client.person.token}"}
    if route == "resource":
        rid = rng.choice(client.columns) if client.columns and rng.random() < 0.2 else rng.choice(client.tables).id
        return http.get(f"/api/v1/resources/{rid}", headers=auth)
    if route == "list":
        params: dict[str, Any] = {"limit": 50}
        if client.cursor and rng.random() < 0.5:
            params["cursor"] = client.cursor
        response = http.get("/api/v1/resources", params=params, headers=auth)
        if response.status_code == 200:
            client.cursor = response.json().get("next_cursor")
        return response
    if route == "search":
        words = rng.sample(WORDS, rng.choice((1, 1, 2, 3)))
        q = rng.choice(client.tables).name.replace("_", " ") if rng.random() < 0.3 else " ".join(words)
        return http.get("/api/v1/search", params={"q": q}, headers=auth)
    if route == "lineage":
        return http.get(f"/api/v1/resources/{rng.choice(client.tables).id}/lineage", params={"depth": 3}, headers=auth)
    if route == "ask":
        question = rng.choice(QUESTIONS).format(t=rng.choice(client.tables).name, w=rng.choice(WORDS))
        return http.post("/api/v1/ai/ask", json={"question": question}, headers=auth)
    return http.get(f"/resources/{rng.choice(client.tables).id}")


def error_text(response: httpx.Response) -> str:
    """The start of an error's body; for an HTML page, its visible text from <main> on."""
    text = response.text
    if "html" in response.headers.get("content-type", ""):
        text = _TAG.sub(" ", text[text.find("<main") :] if "<main" in text else text)
    return " ".join(text.split())[:300]


def loop(client: Client, until: float, start: threading.Barrier) -> None:
    routes, weights = list(MIX), list(MIX.values())
    start.wait()
    while time.monotonic() < until:
        route = client.rng.choices(routes, weights)[0]
        began, started = time.monotonic(), time.perf_counter()
        try:
            response = request(client, route)
            status, detail = str(response.status_code), "" if response.is_success else error_text(response)
        except httpx.HTTPError as exc:
            status, detail = type(exc).__name__, str(exc)[:300]
        client.samples.append(Sample(route, status, (time.perf_counter() - started) * 1000, began, detail))


# --- the sync running meanwhile ---------------------------------------------------------------


def build_source(path: Path, tables: int) -> None:
    """A SQLite source: tables of 8 columns, and a view on every tenth pair of them (view lineage)."""
    rng = random.Random(5)
    with sqlite3.connect(path) as conn:
        for i in range(tables):
            columns = ", ".join(f"{'_'.join(rng.sample(WORDS, 2))}_{c} TEXT" for c in range(7))
            conn.execute(f"CREATE TABLE src_{i} (id INTEGER PRIMARY KEY, {columns})")
        for i in range(0, tables - 1, 10):
            conn.execute(f"CREATE VIEW v_src_{i} AS SELECT a.id FROM src_{i} a JOIN src_{i + 1} b ON a.id = b.id")


@dataclass
class Source:
    """The integration synced during the load, and how many times its file was changed so far."""

    http: httpx.Client  # the admin's
    integration_id: str
    path: Path
    tables: int
    every: float
    generation: int = 0

    def change(self) -> None:
        """Drop the last round's extra tables, create this round's, and widen a few others: every sync writes."""
        self.generation += 1
        g, churn = self.generation, max(5, self.tables // 20)
        with sqlite3.connect(self.path) as conn:
            for i in range(churn):
                conn.execute(f"DROP TABLE IF EXISTS churn_{g - 1}_{i}")
                conn.execute(f"CREATE TABLE churn_{g}_{i} (id INTEGER PRIMARY KEY, label TEXT, amount REAL)")
                conn.execute(f"ALTER TABLE src_{(g * churn + i) % self.tables} ADD COLUMN extra_{g}_{i} TEXT")


@dataclass
class SyncLog:
    runs: list[tuple[str, float]] = field(default_factory=list)  # (final status or error, seconds)
    spans: list[tuple[float, float]] = field(default_factory=list)  # time.monotonic() at its start and end

    def during(self, moment: float) -> bool:
        return any(start <= moment <= end for start, end in self.spans)


def sync_once(http: httpx.Client, integration_id: str, patience: float = 600) -> tuple[str, float]:
    started = time.monotonic()
    response = http.post(f"/api/v1/integrations/{integration_id}/sync")
    if response.status_code != 202:
        return f"POST {response.status_code}: {response.text[:120]}", time.monotonic() - started
    run_id = response.json()["id"]
    while time.monotonic() - started < patience:
        time.sleep(0.25)
        run = http.get(f"/api/v1/integrations/{integration_id}/syncs/{run_id}")
        if run.status_code != 200:
            continue
        body = run.json()
        if body["status"] in ("succeeded", "failed"):
            detail = "" if body["status"] == "succeeded" else f": {(body.get('error') or '')[:120]}"
            return body["status"] + detail, time.monotonic() - started
    return "still running", time.monotonic() - started


def add_source(http: httpx.Client, folder: Path, tables: int, every: float) -> Source:
    """Build the SQLite source, add it as an integration (as the admin, through the API) and sync it once."""
    path = folder / "bench_source.db"
    build_source(path, tables)
    created = http.post(
        "/api/v1/integrations", json={"name": "bench source", "type": "sqlite", "config": {"url": f"sqlite:///{path}"}}
    )
    created.raise_for_status()
    integration_id = created.json()["id"]
    status, took = sync_once(http, integration_id)
    console.print(f"first sync of the {tables}-table source: {status} in {took:.1f} s")
    return Source(http, integration_id, path, tables, every)


def keep_syncing(source: Source, done: threading.Event, log: SyncLog) -> None:
    while not done.is_set():
        began = time.monotonic()
        try:
            source.change()
            log.runs.append(sync_once(source.http, source.integration_id))
        except Exception as exc:  # the bench's own failure: say so, keep the load going
            log.runs.append((f"bench error {type(exc).__name__}: {exc}"[:160], time.monotonic() - began))
        log.spans.append((began, time.monotonic()))
        done.wait(source.every)


# --- one run ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and all its descendants so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def run_phase(
    base: str,
    people: list[Person],
    catalog: Catalog,
    seconds: float,
    source: Source | None,
    server_pid: int,
) -> tuple[list[Sample], SyncLog, float]:
    clients = []
    for i, person in enumerate(people):
        columns = [cid for cid, team in catalog.columns if catalog.team_ids[team] in person.team_ids]
        clients.append(logged_in(base, person, catalog.visible_tables(person.team_ids), columns, seed=100 + i))
    start = threading.Barrier(len(clients) + 1)
    until = time.monotonic() + seconds + 0.5  # counted from the barrier's release, near enough
    threads = [threading.Thread(target=loop, args=(c, until, start), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    done, log = threading.Event(), SyncLog()
    syncer = None
    if source is not None:
        syncer = threading.Thread(target=keep_syncing, args=(source, done, log))
    start.wait()
    began = time.monotonic()
    cpu_clients, cpu_server = sum(os.times()[:2]), cpu_seconds(server_pid)
    if syncer is not None:
        syncer.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    cpu_clients, cpu_server = sum(os.times()[:2]) - cpu_clients, cpu_seconds(server_pid) - cpu_server
    console.print(
        f"CPU in this phase: clients {cpu_clients:.0f} s, server {cpu_server:.0f} s, "
        f"of {elapsed * (os.cpu_count() or 1):.0f} s the machine had",
        highlight=False,
    )
    done.set()
    if syncer is not None:
        syncer.join()
    for client in clients:
        client.http.close()
    return [s for c in clients for s in c.samples], log, elapsed


def report_phase(clients: int, seconds: float, samples: list[Sample], log: SyncLog, kind: str) -> dict[str, Any]:
    """Per route; req/s over the whole phase, the requests still in flight at its end included."""
    by_route: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_route[s.route].append(s)
    table = Table(title=f"{clients} clients, {kind} store, {seconds:.0f} s until the last request ended")
    for column in ("route", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column in ("route", "errors") else "right")
    first_errors: dict[tuple[str, str], str] = {}
    for route in [*MIX, "all"]:
        rows = samples if route == "all" else by_route.get(route, [])
        ms = [s.ms for s in rows]
        bad = Counter(s.status for s in rows if not s.status.startswith(("2", "3")))
        for s in rows:
            if not s.status.startswith(("2", "3")):
                first_errors.setdefault((s.route, s.status), s.detail)
        table.add_row(
            route,
            f"{len(rows):,}",
            f"{len(rows) / seconds:.1f}",
            f"{percentile(ms, 0.5):.0f}",
            f"{percentile(ms, 0.95):.0f}",
            f"{percentile(ms, 0.99):.0f}",
            ", ".join(f"{status} x{n}" for status, n in bad.most_common()) or "0",
            end_section=route == list(MIX)[-1],
        )
    console.print(table)
    for (route, status), detail in sorted(first_errors.items()):
        console.print(f"  first {route} {status}: {detail}", highlight=False, soft_wrap=True)
    if log.runs:
        outcomes = Counter(status for status, _ in log.runs)
        durations = [d for _, d in log.runs]
        console.print(
            f"  syncs during the load: {len(log.runs)} ({', '.join(f'{s} x{n}' for s, n in outcomes.items())}); "
            f"duration p50 {percentile(durations, 0.5):.1f} s, max {max(durations):.1f} s",
            highlight=False,
        )
    if log.spans:
        inside = [s for s in samples if s.route in READS and log.during(s.started)]
        outside = [s for s in samples if s.route in READS and not log.during(s.started)]
        console.print(
            f"  reads started during a sync: {len(inside):,}, p95 {percentile([s.ms for s in inside], 0.95):.0f} ms, "
            f"{sum(1 for s in inside if not s.status.startswith(('2', '3')))} errors; "
            f"outside: {len(outside):,}, p95 {percentile([s.ms for s in outside], 0.95):.0f} ms, "
            f"{sum(1 for s in outside if not s.status.startswith(('2', '3')))} errors",
            highlight=False,
        )
    reads = [s.ms for s in samples if s.route in READS]
    errors = sum(1 for s in samples if not s.status.startswith(("2", "3")))
    return {
        "clients": clients,
        "requests": len(samples),
        "rps": len(samples) / seconds,
        "errors": errors,
        "read_p95": percentile(reads, 0.95),
        "syncs": len(log.runs),
    }


@contextmanager
def store_url(kind: str, home: Path) -> Iterator[str]:
    context = fresh_pg_database(f"datadesk_bench_{os.getpid()}") if kind == "postgres" else nullcontext(None)
    with context as url:
        yield url or f"sqlite:///{home / 'datadesk.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--clients", default="5,50", help="comma-separated client counts, run in turn (default: %(default)s)"
    )
    parser.add_argument(
        "--seconds", type=float, default=60, help="how long each client count runs (default: %(default)s)"
    )
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--resources", type=int, default=5000, help="catalog size to fill (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="`serve --workers` (default: %(default)s)")
    parser.add_argument("--keep-ask-limit", action="store_true", help="leave questions per minute at its default")
    parser.add_argument("--with-sync", action="store_true", help="sync a changing SQLite source during the load")
    parser.add_argument("--sync-every", type=float, default=5, help="seconds between syncs (default: %(default)s)")
    parser.add_argument("--sync-tables", type=int, default=1000, help="tables in that source (default: %(default)s)")
    parser.add_argument("--keep-log", type=Path, metavar="PATH", help="copy the server's log here at the end")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",") if c.strip()]
    secret_key = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="datadesk-load-") as tmp, store_url(args.store, Path(tmp) / "home") as url:
        home = Path(tmp) / "home"
        (home / "sources").mkdir(parents=True)
        catalog = fill(url, args.resources, secret_key=secret_key, progress=lambda _line: None)
        analyzed = analyze_like_a_sync(catalog)
        started = time.perf_counter()
        people = add_people(catalog, max(counts), password=PASSWORD)
        admin = add_people(catalog, 1, role=Role.admin, password=PASSWORD)[0]
        console.print(
            f"filled {catalog.resources:,} resources in {catalog.fill_seconds:.1f} s; analyze: {analyzed}; "
            f"{len(people) + 1} people in {time.perf_counter() - started:.1f} s",
            highlight=False,
        )
        catalog.engine.dispose()
        env = {
            **os.environ,
            "DATADESK_HOME": str(home),
            "DATADESK_DATABASE_URL": url,
            "DATADESK_SECRET_KEY": secret_key,
            "DATADESK_SOURCES_DIR": str(home / "sources"),
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "serve.log"
        summaries = []
        with serve(env, port, args.workers, log) as server, httpx.Client(base_url=base, timeout=60) as admin_http:
            admin_http.headers["Authorization"] = f"Bearer {admin.token}"
            if not args.keep_ask_limit:
                admin_http.put("/api/v1/settings/ai", json={"questions_per_minute": 0}).raise_for_status()
            source = (
                add_source(admin_http, home / "sources", args.sync_tables, args.sync_every) if args.with_sync else None
            )
            statistics = planner_statistics(catalog.engine)
            catalog.engine.dispose()
            console.print(f"planner statistics at the start: {statistics}", highlight=False)
            for count in counts:
                samples, sync_log, elapsed = run_phase(base, people[:count], catalog, args.seconds, source, server.pid)
                summaries.append(report_phase(count, elapsed, samples, sync_log, args.store))
                time.sleep(2)
        exceptions = server_exceptions(log)
        if args.keep_log:
            args.keep_log.write_bytes(log.read_bytes())
    summary = Table(title=f"Throughput ({args.store}, serve --workers {args.workers})")
    for column in ("clients", "requests", "req/s", "errors", "error %", "read p95 ms", "syncs meanwhile"):
        summary.add_column(column, justify="right")
    for s in summaries:
        summary.add_row(
            str(s["clients"]),
            f"{s['requests']:,}",
            f"{s['rps']:.1f}",
            f"{s['errors']:,}",
            f"{100 * s['errors'] / max(1, s['requests']):.1f}",
            f"{s['read_p95']:.0f}",
            str(s["syncs"]),
        )
    console.print(summary)
    if exceptions:
        console.print("exceptions in the server's log:")
        for line, n in exceptions.most_common(8):
            console.print(f"  {n} x {line}", highlight=False, soft_wrap=True)
    console.print(
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; code at {source_state()}; "
        "clients are threads of this process, on the same machine as the server.",
        highlight=False,
    )


if __name__ == "__main__":
    main()
