"""How each read path grows with the catalog: p50/p95 at 500 resources and at each size asked for.

For each size, a fresh store (a SQLite file in a temp folder, or a new PostgreSQL database dropped at the end)
is migrated and filled by bench/_catalog.py: tables and columns of 10 Teams, lineage between tables, tags,
owners, dbt faces, glossary terms. If the app has `datadesk.db.analyze`, it is called after the fill, as a sync
would; nothing else is done to the store that the app would not do. Then a viewer in Everyone and 5 of the 10
Teams (a real member, authenticated by a real token) calls the functions the routes call, each call in its own
committed transaction like a request (authentication itself not timed):

    resource page   catalog.service.get_detail (tables, some columns)
    list            catalog.service.list_resources, first page of 50, and cursor pages (walking on)
    list popular    the home page's list: 15 most popular tables
    search          catalog.search.search with mixed queries (words, table names, typos, unfinished words)
    lineage d3      catalog.lineage_graph.graph, depth 3, of tables the viewer sees
    ask (local)     ai.assistant.ask with the local provider: retrieval, tools, cards, answer, prompt and audit

    .venv/bin/python bench/scale.py --resources 20000,100000,1000000 --store sqlite|postgres [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _catalog import WORDS, Catalog, add_people, analyze_like_a_sync, fill, planner_statistics, source_state
from rich.console import Console
from rich.table import Table
from tests.dbs import fresh_pg_database

from datadesk.access.caller import Caller
from datadesk.ai import assistant
from datadesk.ai import settings as ai_settings
from datadesk.catalog import lineage_graph, service
from datadesk.catalog.search import search
from datadesk.db import StoreSession, transaction
from datadesk.identity import service as identity
from datadesk.settings import Settings

BASELINE = 500
SLOW_MS = 1000
ROUTES = (
    "resource page",
    "list, first page",
    "list, cursor page",
    "list popular",
    "search",
    "lineage d3",
    "ask (local)",
)
console = Console(width=None if sys.stdout.isatty() else 150)


@dataclass
class Timings:
    samples: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    def p(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


@dataclass
class SizeResult:
    size: int
    resources: int
    fill_seconds: float
    analyze: str
    statistics: str
    routes: dict[str, Timings]


@contextmanager
def fresh_store(kind: str, tmp: Path, size: int) -> Iterator[str]:
    if kind == "postgres":
        with fresh_pg_database(f"datadesk_bench_{os.getpid()}") as url:
            yield url
        return
    path = tmp / f"store-{size}.db"
    yield f"sqlite:///{path}"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def queries(rng: random.Random, catalog: Catalog, count: int) -> list[str]:
    """What people type: one to three words, a table's name, a typo, an unfinished word."""
    found = []
    for _ in range(count):
        if rng.random() < 0.3:
            found.append(rng.choice(catalog.tables).name.replace("_", " "))
            continue
        picked = rng.sample(WORDS, rng.choice((1, 1, 2, 2, 3)))
        if rng.random() < 0.15 and len(picked[0]) >= 5:
            i = rng.randrange(1, len(picked[0]) - 1)
            picked[0] = picked[0][:i] + picked[0][i + 1] + picked[0][i] + picked[0][i + 2 :]
        if rng.random() < 0.2:
            picked[-1] = picked[-1][: max(3, len(picked[-1]) - 2)]
        found.append(" ".join(picked))
    return found


def questions(rng: random.Random, names: list[str], count: int) -> list[str]:
    shapes = (
        "Who owns {t}?",
        "What feeds {t}?",
        "What uses {t}?",
        "Describe {t}",
        "Which tables have a column like {w}?",
        "Which tables are tagged pii?",
        "What are the most popular tables?",
        "How do we count {w} {v} per month?",
    )
    return [
        rng.choice(shapes).format(t=rng.choice(names), w=rng.choice(WORDS), v=rng.choice(WORDS)) for _ in range(count)
    ]


def measure(catalog: Catalog, settings: Settings, repeat: int, route_seconds: float) -> dict[str, Timings]:
    rng = random.Random(7)
    viewer = add_people(catalog, 1)[0]
    with transaction(catalog.sessions) as session:
        caller = identity.authenticate(session=session, token=viewer.token)
        session.seal(catalog.workspace_id)
        # Questions per minute is an admin's choice; a bench asking in a loop would only measure the refusal.
        ai_settings.update(
            session=session,
            caller=Caller.operator(catalog.workspace_id),
            secret_key=settings.secret_key,
            changes={"questions_per_minute": 0},
        )
    tables = catalog.visible_tables(viewer.team_ids)
    columns = [cid for cid, team in catalog.columns if catalog.team_ids[team] in viewer.team_ids]
    pages = [rng.choice(columns) if columns and rng.random() < 0.2 else rng.choice(tables).id for _ in range(repeat)]
    walks = [rng.choice(tables).id for _ in range(repeat)]
    searches = queries(rng, catalog, repeat)
    asks = questions(rng, [t.name for t in tables], repeat)
    with transaction(catalog.sessions, catalog.workspace_id) as session:
        _, second_page = service.list_resources(session=session, caller=caller, limit=50)
    cursor = [second_page]

    def next_page(session: StoreSession) -> None:
        _, cursor[0] = service.list_resources(session=session, caller=caller, limit=50, cursor=cursor[0])
        cursor[0] = cursor[0] or second_page  # walked to the end: start over

    def ask(session: StoreSession, question: str) -> None:
        answer = assistant.ask(session=session, caller=caller, settings=settings, question=question)
        if answer.error is not None:
            raise RuntimeError(f"{answer.error.code}: {answer.error.message}")

    calls: dict[str, Callable[[StoreSession, int], Any]] = {
        "resource page": lambda s, i: service.get_detail(session=s, caller=caller, resource_id=pages[i]),
        "list, first page": lambda s, i: service.list_resources(session=s, caller=caller, limit=50),
        "list, cursor page": lambda s, i: next_page(s),
        "list popular": lambda s, i: service.list_resources(
            session=s, caller=caller, type="table", order_by="popularity", limit=15
        ),
        "search": lambda s, i: search(session=s, caller=caller, q=searches[i], limit=20),
        "lineage d3": lambda s, i: lineage_graph.graph(session=s, caller=caller, resource_id=walks[i], depth=3),
        "ask (local)": lambda s, i: ask(s, asks[i]),
    }
    results: dict[str, Timings] = {}
    for route in ROUTES:
        results[route] = timings = Timings()
        route_started = time.perf_counter()
        for i in range(-1, repeat):  # one warm-up call
            started = time.perf_counter()
            try:
                with transaction(catalog.sessions, catalog.workspace_id) as session:
                    calls[route](session, max(i, 0))
            except Exception as exc:
                timings.errors += 1
                timings.first_error = timings.first_error or f"{type(exc).__name__}: {exc}"[:200]
            else:
                elapsed = (time.perf_counter() - started) * 1000
                if i >= 0 or elapsed > SLOW_MS:  # a path this slow is no faster warm; keep the wait short
                    timings.samples.append(elapsed)
            if time.perf_counter() - route_started > route_seconds and (timings.samples or timings.errors):
                break
        console.print(
            f"  {route}: n={len(timings.samples)} p50 {timings.p(0.5):.1f} ms, p95 {timings.p(0.95):.1f} ms"
            + (f", {timings.errors} errors ({timings.first_error})" if timings.errors else ""),
            highlight=False,
        )
    return results


def run_size(kind: str, tmp: Path, size: int, secret_key: str, repeat: int, route_seconds: float) -> SizeResult:
    console.print(f"[bold]{size:,} resources[/bold] ({kind})")
    with fresh_store(kind, tmp, size) as url:
        catalog = fill(url, size, secret_key=secret_key, progress=lambda line: console.print(line, highlight=False))
        rate = catalog.resources / catalog.fill_seconds
        console.print(f"  filled {catalog.resources:,} in {catalog.fill_seconds:.1f} s ({rate:,.0f}/s)")
        analyzed = analyze_like_a_sync(catalog)
        time.sleep(1)  # PostgreSQL publishes its table statistics counters about once a second
        statistics = planner_statistics(catalog.engine)
        console.print(f"  analyze: {analyzed}; planner statistics: {statistics}", highlight=False)
        settings = Settings(home=tmp / "home", database_url=url, secret_key=secret_key)
        try:
            routes = measure(catalog, settings, repeat, route_seconds)
        finally:
            catalog.engine.dispose()
    return SizeResult(size, catalog.resources, catalog.fill_seconds, analyzed, statistics, routes)


def report(kind: str, results: list[SizeResult]) -> None:
    fills = Table(title=f"Fill ({kind})")
    for column in ("size", "resources", "seconds", "resources/s"):
        fills.add_column(column, justify="right")
    fills.add_column("analyze after fill")
    fills.add_column("planner statistics when measured")
    for r in results:
        fills.add_row(
            f"{r.size:,}",
            f"{r.resources:,}",
            f"{r.fill_seconds:.1f}",
            f"{r.resources / r.fill_seconds:,.0f}",
            r.analyze,
            r.statistics,
        )
    console.print(fills)
    base = results[0]
    table = Table(title=f"Read paths, ms p50 / p95 ({kind}); growth: p95 / p95 at {base.size:,}")
    table.add_column("route")
    for r in results:
        table.add_column(f"{r.size:,}", justify="right")
    for r in results[1:]:
        table.add_column(f"x at {r.size:,}", justify="right")
    for route in ROUTES:
        cells = []
        for r in results:
            t = r.routes[route]
            cell = f"{t.p(0.5):.1f} / {t.p(0.95):.1f}" if t.samples else "-"
            if t.samples and len(t.samples) < 20:
                cell += f" (n={len(t.samples)})"
            if t.errors:
                cell += f" [{t.errors} err]"
            cells.append(cell)
        base_p95 = base.routes[route].p(0.95)
        growth = [f"{r.routes[route].p(0.95) / base_p95:.1f}x" if base_p95 > 0 else "-" for r in results[1:]]
        table.add_row(route, *cells, *growth)
    console.print(table)
    errors = [(r.size, route, t) for r in results for route, t in r.routes.items() if t.errors]
    for size, route, t in errors:
        console.print(f"{route} at {size:,}: {t.errors} errors; first: {t.first_error}", highlight=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--resources",
        default="20000,100000",
        help="comma-separated catalog sizes; 500 is always measured first, as the baseline (default: %(default)s)",
    )
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=100, help="timed calls per route and size (default: %(default)s)")
    parser.add_argument(
        "--route-seconds",
        type=float,
        default=30.0,
        help="stop a route's calls once they took this long in all, so a slow path cannot stall the run "
        "(default: %(default)s)",
    )
    args = parser.parse_args()
    sizes = sorted({BASELINE, *(int(s.replace("_", "")) for s in args.resources.split(",") if s.strip())})
    secret_key = secrets.token_urlsafe(32)
    results = []
    with tempfile.TemporaryDirectory(prefix="datadesk-scale-") as tmp:
        for size in sizes:
            results.append(run_size(args.store, Path(tmp), size, secret_key, args.repeat, args.route_seconds))
    report(args.store, results)
    console.print(
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; code at {source_state()}; "
        "one process calling the services, no HTTP.",
        highlight=False,
    )


if __name__ == "__main__":
    main()
