"""Column lineage accuracy: `connectors.lineage.annotate` scored against hand-made labels.

Builds each source's Snapshot with the real connectors, as a sync would, runs `annotate` on it, and compares
the column edges it finds with tests/fixtures/lineage/labels.jsonl (how the labels were made and what they
mean: tests/fixtures/lineage/SOURCES.md):

    pagila    PostgresConnector on a fresh database (random name, dropped afterwards) holding Pagila's schema;
              view SQL comes back through pg_get_viewdef
    demo_dbt  DbtConnector on the demo's acme_analytics artifacts, generated into a temporary folder
              exactly as the demo does (demo_data.warehouse.build)
    jaffle    DbtConnector on tests/fixtures/dbt/jaffle-shop/{manifest,catalog}.json

Only labelled columns are scored. Value edges and filter edges are scored apart: precision, recall and F1
over (column, source table, source column) edges, summed over a source's labelled columns (micro average),
per source and overall; "exact" counts labelled columns whose value sources are all found and nothing more.
Also printed: the SQL statements annotate could not parse, per source. Names compare case-insensitively.

    .venv/bin/python bench/lineage_accuracy.py [--pagila-dir ../shared/data/pagila] [--pg-url URL]
                                               [--verbose] [--json]

`--verbose` lists each miss and extra; `--json` prints a machine-readable summary only. The exit code is 0
whatever the scores (a bench measures, it does not gate). A source that cannot be built is skipped with a
note (Pagila when its folder is missing or PostgreSQL cannot be reached).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datadesk.connectors.base import Snapshot, TableMeta

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "tests" / "fixtures" / "lineage" / "labels.jsonl"
JAFFLE = ROOT / "tests" / "fixtures" / "dbt" / "jaffle-shop"
PAGILA_DIR = ROOT.parent / "shared" / "data" / "pagila"
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SOURCES = ("pagila", "demo_dbt", "jaffle")
# What holds SQL of its own, and so column lineage; a source or seed of the same name never does.
LINEAGE_KINDS = ("view", "materialized_view", "model", "snapshot")

Ref = tuple[str, str]  # ("schema.table", column), lower case
Annotate = Callable[[Snapshot], int]


@dataclass(frozen=True)
class Label:
    """One line of labels.jsonl: a labelled output column, or (column "") the table's filter columns."""

    source: str
    table: str
    column: str
    value: frozenset[Ref]
    filter: frozenset[Ref]


@dataclass
class Counts:
    """Edges found and expected; an empty side counts as perfect only when the other side is empty too."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        found = self.tp + self.fp
        return self.tp / found if found else float(self.fn == 0)

    @property
    def recall(self) -> float:
        expected = self.tp + self.fn
        return self.tp / expected if expected else float(self.fp == 0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass
class Score:
    """How the parser did on one source's labels (or on all of them, summed)."""

    value: Counts = field(default_factory=Counts)
    filter: Counts = field(default_factory=Counts)
    columns: int = 0
    exact: int = 0  # labelled columns whose value sources are exactly the labelled ones
    tables: int = 0
    exact_tables: int = 0  # labelled tables whose filter columns are exactly the labelled ones
    unparsed: int = 0  # statements annotate could not parse, labelled or not
    seconds: float = 0.0
    missing_tables: list[str] = field(default_factory=list)  # labelled tables the snapshot lacks
    unparsed_tables: list[str] = field(default_factory=list)  # labelled tables flagged lineage_unparsed
    misses: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)

    def __add__(self, other: Score) -> Score:
        return Score(
            self.value + other.value,
            self.filter + other.filter,
            self.columns + other.columns,
            self.exact + other.exact,
            self.tables + other.tables,
            self.exact_tables + other.exact_tables,
            self.unparsed + other.unparsed,
            self.seconds + other.seconds,
            self.missing_tables + other.missing_tables,
            self.unparsed_tables + other.unparsed_tables,
            self.misses + other.misses,
            self.extras + other.extras,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "exact_columns": self.exact,
            "tables": self.tables,
            "exact_tables": self.exact_tables,
            "value": self.value.as_dict(),
            "filter": self.filter.as_dict(),
            "unparsed": self.unparsed,
            "annotate_seconds": round(self.seconds, 3),
            "missing_tables": self.missing_tables,
            "unparsed_tables": self.unparsed_tables,
        }


def _refs(pairs: Iterable[Iterable[str]]) -> frozenset[Ref]:
    found = set()
    for pair in pairs:
        table, column = pair
        found.add((table.lower(), column.lower()))
    return frozenset(found)


def load_labels(path: Path = LABELS) -> list[Label]:
    """The labels, one JSON object a line; a malformed line or a repeated (source, table, column) fails loudly."""
    labels, seen = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if set(item) != {"source", "table", "column", "value", "filter"} or item["source"] not in SOURCES:
            raise ValueError(f"{path.name}:{number}: expected source (one of {SOURCES}), table, column, value, filter")
        label = Label(item["source"], item["table"], item["column"], _refs(item["value"]), _refs(item["filter"]))
        key = (label.source, label.table.lower(), label.column.lower())
        if key in seen:
            raise ValueError(f"{path.name}:{number}: {key} is labelled twice")
        if (label.column and label.filter) or (not label.column and label.value):
            raise ValueError(f"{path.name}:{number}: filter columns go on the table's line (column ''), only there")
        seen.add(key)
        labels.append(label)
    return labels


def find_table(snapshot: Snapshot, name: str) -> TableMeta | None:
    """The view or dbt model of that name; None when there is none, or more than one."""
    found = [t for t in snapshot.tables if t.name.lower() == name.lower() and t.kind in LINEAGE_KINDS]
    return found[0] if len(found) == 1 else None


def found_edges(table: TableMeta) -> tuple[dict[str, set[Ref]], set[Ref]]:
    """The value sources of each output column, and the filter columns, that annotate put on a table."""
    values: dict[str, set[Ref]] = {}
    filters: set[Ref] = set()
    for edge in table.column_lineage:
        ref = (f"{edge.source[0]}.{edge.source[1]}".lower(), edge.source_column.lower())
        if edge.kind == "filter":
            filters.add(ref)
        else:
            values.setdefault(edge.column.lower(), set()).add(ref)
    return values, filters


def _show(refs: Iterable[Ref]) -> str:
    return ", ".join(f"{table}.{column}" for table, column in sorted(refs))


def _compare(where: str, expected: frozenset[Ref], found: set[Ref], score: Score) -> Counts:
    counts = Counts(len(expected & found), len(found - expected), len(expected - found))
    if expected - found:
        score.misses.append(f"{where}: {_show(expected - found)}")
    if found - expected:
        score.extras.append(f"{where}: {_show(found - expected)}")
    return counts


def score(labels: list[Label], snapshot: Snapshot, source: str) -> Score:
    """Compare one source's labels with the edges on its (already annotated) snapshot."""
    result = Score()
    for name in dict.fromkeys(label.table for label in labels if label.source == source):
        table = find_table(snapshot, name)
        values, filters = found_edges(table) if table is not None else ({}, set())
        result.tables += 1
        if table is None:
            result.missing_tables.append(f"{source} {name}")
        elif table.lineage_unparsed:
            result.unparsed_tables.append(f"{source} {name}")
        for label in labels:
            if label.source != source or label.table != name:
                continue
            if label.column:
                where = f"{source} {name}.{label.column} value"
                found = values.get(label.column.lower(), set())
                result.value += _compare(where, label.value, found, result)
                result.columns += 1
                result.exact += found == label.value
            else:
                result.filter += _compare(f"{source} {name} filter", label.filter, filters, result)
                result.exact_tables += filters == label.filter
    return result


def evaluate(
    labels: list[Label], snapshots: dict[str, Snapshot], annotate: Annotate
) -> tuple[dict[str, Score], dict[str, str]]:
    """Annotate each snapshot and score it; also why a source could not be scored (annotate raised)."""
    scores, failed = {}, {}
    for source, snapshot in snapshots.items():
        started = time.perf_counter()
        try:
            unparsed = annotate(snapshot)
        except Exception as exc:  # a crash on one source is a finding, not the end of the measurement
            failed[source] = f"annotate raised {type(exc).__name__}: {exc}"
            continue
        seconds = time.perf_counter() - started
        scores[source] = score(labels, snapshot, source)
        scores[source].unparsed = unparsed
        scores[source].seconds = seconds
    return scores, failed


@contextmanager
def pagila_snapshot(pagila_dir: Path, pg_url: str) -> Iterator[Snapshot]:
    """Pagila's schema (no rows: lineage needs none) in a fresh database, read by the PostgreSQL connector."""
    import psycopg
    from sqlalchemy.engine import make_url

    from datadesk.connectors.registry import connector_for

    if shutil.which("psql") is None:
        raise RuntimeError("psql is not installed (it loads pagila-schema.sql, a pg_dump script)")
    admin = make_url(pg_url).set(drivername="postgresql")
    name = f"pagila_lineage_{uuid.uuid4().hex[:10]}"
    url = admin.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(pagila_dir / "pagila-schema.sql")],
            check=True,
            capture_output=True,
            text=True,
        )
        yield connector_for("postgres", {"url": url}).read()
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def demo_snapshot() -> Iterator[Snapshot]:
    """The demo's dbt artifacts, written into a temporary folder as `datadesk demo` writes them."""
    from datadesk.connectors.registry import connector_for
    from datadesk.demo_data import warehouse

    with tempfile.TemporaryDirectory(prefix="dd_lineage_") as tmp:
        files = warehouse.build(Path(tmp))
        config = {"manifest_path": str(files.manifest_path), "catalog_path": str(files.catalog_path)}
        yield connector_for("dbt", config).read()


@contextmanager
def jaffle_snapshot() -> Iterator[Snapshot]:
    from datadesk.connectors.registry import connector_for

    config = {"manifest_path": str(JAFFLE / "manifest.json"), "catalog_path": str(JAFFLE / "catalog.json")}
    yield connector_for("dbt", config).read()


def build_snapshots(
    stack: ExitStack, pagila_dir: Path, pg_url: str, console: Console
) -> tuple[dict[str, Snapshot], dict[str, str]]:
    """Each source's snapshot, and why the ones that could not be built were skipped."""
    builders: dict[str, Callable[[], Any]] = {
        "pagila": lambda: pagila_snapshot(pagila_dir, pg_url),
        "demo_dbt": demo_snapshot,
        "jaffle": jaffle_snapshot,
    }
    snapshots, skipped = {}, {}
    for source, builder in builders.items():
        if source == "pagila" and not (pagila_dir / "pagila-schema.sql").is_file():
            skipped[source] = f"no pagila-schema.sql in {pagila_dir} (give --pagila-dir)"
            continue
        console.print(f"Reading {source}...")
        try:
            snapshots[source] = stack.enter_context(builder())
        except Exception as exc:  # one source that cannot be built leaves the others to measure
            detail = getattr(exc, "stderr", "") or ""
            skipped[source] = f"{type(exc).__name__}: {exc} {detail}".strip()
    return snapshots, skipped


def _pct(value: float) -> str:
    return f"{value:.1%}"


def report(console: Console, scores: dict[str, Score], skipped: dict[str, str], verbose: bool) -> None:
    table = Table(title="column lineage against the hand labels")
    for column in ("source", "edges", "labelled", "exact", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column in ("source", "edges") else "right")
    rows = [(source, scores[source], "") for source in SOURCES if source in scores]
    if scores:
        rows.append(("overall", overall(scores), "bold"))
    for name, score, style in rows:
        for edges, counts, labelled, exact in (
            ("value", score.value, f"{score.columns} columns", score.exact),
            ("filter", score.filter, f"{score.tables} tables", score.exact_tables),
        ):
            cells = (_pct(counts.precision), _pct(counts.recall), _pct(counts.f1))
            table.add_row(name if edges == "value" else "", edges, labelled, str(exact), *cells, style=style)
    console.print(table)
    for source, score in scores.items():
        console.print(
            f"{source}: {score.unparsed} SQL statements annotate could not parse; annotate took "
            f"{score.seconds * 1000:.0f} ms",
            markup=False,
        )
    for source, why in skipped.items():
        console.print(f"skipped {source}: {why}", markup=False)
    total = overall(scores)
    for name in total.missing_tables:
        console.print(f"labelled table not in the snapshot (all its edges count as misses): {name}", markup=False)
    for name in total.unparsed_tables:
        console.print(f"labelled table whose SQL annotate could not parse: {name}", markup=False)
    if verbose:
        for line in total.misses:
            console.print(f"  MISS  {line}", markup=False)
        for line in total.extras:
            console.print(f"  EXTRA {line}", markup=False)


def overall(scores: dict[str, Score]) -> Score:
    return sum(scores.values(), Score())


def summary(scores: dict[str, Score], skipped: dict[str, str]) -> dict[str, Any]:
    """What --json prints."""
    return {
        "sources": {source: score.as_dict() for source, score in scores.items()},
        "overall": overall(scores).as_dict(),
        "skipped": skipped,
    }


def _annotate() -> Annotate | None:
    try:
        from datadesk.connectors.lineage import annotate
    except ImportError as exc:
        print(f"cannot import datadesk.connectors.lineage.annotate: {exc}", file=sys.stderr)
        return None
    return annotate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pagila-dir", type=Path, default=PAGILA_DIR, help="folder holding pagila-schema.sql")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server to create the throwaway database on")
    parser.add_argument("--verbose", action="store_true", help="list every missed and extra edge")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary only")
    parser.add_argument("--labels", type=Path, default=LABELS)
    args = parser.parse_args()
    console = Console(stderr=True) if args.json else Console()
    labels = load_labels(args.labels)
    annotate = _annotate()
    if annotate is None:
        return
    with ExitStack() as stack:
        snapshots, skipped = build_snapshots(stack, args.pagila_dir, args.pg_url, console)
        scores, failed = evaluate(labels, snapshots, annotate)
    skipped |= failed
    if args.json:
        print(json.dumps(summary(scores, skipped), indent=2))
    else:
        report(console, scores, skipped, args.verbose)


if __name__ == "__main__":
    main()
