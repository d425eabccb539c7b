"""Answer quality of the offline `local` assistant: ask every question of the eval set as its asker, and judge.

Builds the eval world (bench/_eval_world.py: the demo workspace plus Pagila on PostgreSQL, jaffle-shop and
three Spider databases, with Teams deciding who sees what), asks each question of
tests/fixtures/assistant_eval/questions.jsonl through `assistant.ask` as the person named in it, and judges
the answer mechanically against the question's `expect`. Prints accuracy per intent and overall, the answers
that showed another Team's things (leaks), and the latency of one ask.

    .venv/bin/python bench/assistant_eval.py [--data ../shared/data] [--small] [--slice] [--show-failures]

`--small` builds the demo workspace only (no PostgreSQL) and asks the questions about it (source "demo").

What `expect` may hold (strings are matched case-insensitively as substrings of the answer text followed by
the names of its citations):
    all: [..]          every one must appear          any: [..]   at least one must appear
    none: [..]         none may appear                cites: [..] each must be the name of a citation
    cites_any: [..]    one must be a citation's name  cites_none: [..] none may be a citation's name
    no_cites: true     no citation at all
    sql_result: rows   the rows of the last SQL run that succeeded equal these (numbers compared as numbers)
    sql_contains: [..] each value is a cell of that run's rows          sql: true  some SQL run succeeded
    sql_columns_none: [..] none of these is a column of that run        no_sql: true  no SQL run succeeded
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._eval_world import DATA, EvalWorld, build

from datadesk.ai import assistant
from datadesk.db import transaction

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "fixtures" / "assistant_eval" / "questions.jsonl"
INTENTS = (
    "owner",
    "definition",
    "description",
    "columns",
    "tags",
    "lineage_up",
    "lineage_down",
    "dashboards",
    "joins",
    "popular",
    "where_is",
    "aggregate",
    "rows",
    "compare",
    "other_team",
    "no_answer",
)
KNOWN_KEYS = {
    "all",
    "any",
    "none",
    "cites",
    "cites_any",
    "cites_none",
    "no_cites",
    "sql_result",
    "sql_contains",
    "sql",
    "sql_columns_none",
    "no_sql",
}


@dataclass
class Reply:
    """What one ask gave back, reduced to what the judge reads."""

    answer: str
    citations: list[dict[str, str]]
    sql_runs: list[dict[str, Any]]
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Verdict:
    question: dict[str, Any]
    reply: Reply
    failures: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def load_questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    """The eval set, one JSON object a line; a malformed line fails loudly."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        unknown = set(item["expect"]) - KNOWN_KEYS
        if unknown or item["intent"] not in INTENTS:
            raise ValueError(f"{path.name}:{number}: unknown intent or expect keys {sorted(unknown)}")
        found.append(item)
    return found


def ask(world: EvalWorld, asker: str, question: str) -> Reply:
    """One question through the assistant as the route asks it: one transaction, the workspace's provider."""
    started = time.perf_counter()
    with transaction(world.sessions, world.workspace_id) as session:
        answer = assistant.ask(session=session, caller=world.callers[asker], settings=world.settings, question=question)
        prompt = answer.prompt
        reply = Reply(
            answer=prompt.answer or "",
            citations=list(prompt.citations or []),
            sql_runs=list(prompt.sql_runs or []),
            error=answer.error.code if answer.error else None,
        )
    reply.seconds = time.perf_counter() - started
    return reply


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return round(float(value), 6)
    if isinstance(value, str):
        text = value.strip()
        try:
            return round(float(text), 6)
        except ValueError:
            return text.lower()
    return value if value is None else str(value).lower()


def _rows(rows: list[list[Any]]) -> list[list[Any]]:
    return [[_cell(v) for v in row] for row in rows]


def judge(question: dict[str, Any], reply: Reply) -> list[str]:
    """The expectations the reply misses (empty: it passes)."""
    expect = question["expect"]
    names = [str(c.get("name", "")).lower() for c in reply.citations]
    hay = "\n".join([reply.answer.lower(), *names])
    failures = []
    missing = [s for s in expect.get("all", []) if s.lower() not in hay]
    if missing:
        failures.append(f"missing {missing}")
    if expect.get("any") and not any(s.lower() in hay for s in expect["any"]):
        failures.append(f"none of {expect['any']}")
    shown = [s for s in question["expect"].get("none", []) if s.lower() in hay]
    if shown:
        failures.append(f"must not show {shown}")
    uncited = [s for s in expect.get("cites", []) if s.lower() not in names]
    if uncited:
        failures.append(f"not cited {uncited}")
    if expect.get("cites_any") and not any(s.lower() in names for s in expect["cites_any"]):
        failures.append(f"cites none of {expect['cites_any']}")
    wrongly = [s for s in expect.get("cites_none", []) if s.lower() in names]
    if wrongly:
        failures.append(f"must not cite {wrongly}")
    if expect.get("no_cites") and reply.citations:
        failures.append(f"cites {names}")
    ran = [r for r in reply.sql_runs if r.get("status") == "succeeded"]
    last = ran[-1] if ran else None
    wants_sql = any(k in expect for k in ("sql_result", "sql_contains", "sql_columns_none")) or expect.get("sql")
    if wants_sql and last is None:
        tried = [f"{r.get('sql')} -> {r.get('status')}" for r in reply.sql_runs]
        failures.append(f"no SQL succeeded {tried}")
    if last is not None:
        rows = _rows(last.get("rows") or [])
        if "sql_result" in expect and rows != _rows(expect["sql_result"]):
            failures.append(f"rows {rows[:5]} != {expect['sql_result']}")
        cells = {v for row in rows for v in row}
        absent = [v for v in expect.get("sql_contains", []) if _cell(v) not in cells]
        if absent:
            failures.append(f"rows lack {absent}")
        columns = {str(c.get("name", "")).lower() for c in last.get("columns") or []}
        leaked = [c for c in expect.get("sql_columns_none", []) if c.lower() in columns]
        if leaked:
            failures.append(f"columns include {leaked}")
        if expect.get("no_sql"):
            failures.append(f"ran {last.get('sql')}")
    return failures


def leaks(question: dict[str, Any], reply: Reply, world: EvalWorld) -> list[str]:
    """Another Team's things in an answer: a citation the asker may not see, a marker of a hidden resource
    (bench/_eval_world.py), or for other_team questions a string the answer must not show. Strings the asker
    could read in what they do see are never counted (citing a visible namesake is wrong, not a leak)."""
    asker = question["asker"]
    found = [f"cites {c.get('name')}" for c in reply.citations if c.get("resource_id") not in world.visible[asker]]
    text = re.sub(r"[*`]", "", reply.answer).lower()
    for marker in world.hidden[asker]:
        if re.search(rf"(?<![\w.]){re.escape(marker.lower())}(?![\w])", text):
            found.append(f"shows {marker!r}")
    if question["intent"] == "other_team":
        known = world.corpus[asker]
        found += [
            f"shows {s!r}" for s in question["expect"].get("none", []) if s.lower() in text and s.lower() not in known
        ]
    return sorted(set(found))


def evaluate(world: EvalWorld, questions: list[dict[str, Any]]) -> list[Verdict]:
    verdicts = []
    for question in questions:
        try:
            reply = ask(world, question["asker"], question["question"])
        except Exception as exc:  # one broken ask is a wrong answer, not the end of the run
            reply = Reply(answer="", citations=[], sql_runs=[], error=f"{type(exc).__name__}: {exc}")
        verdicts.append(Verdict(question, reply, judge(question, reply), leaks(question, reply, world)))
    return verdicts


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def report(console: Console, verdicts: list[Verdict], show_failures: bool, slowest: int = 0) -> None:
    by_intent: dict[str, list[Verdict]] = defaultdict(list)
    for verdict in verdicts:
        by_intent[verdict.question["intent"]].append(verdict)
    table = Table(title="local assistant: answers judged right, per intent")
    for column in ("intent", "questions", "right", "accuracy"):
        table.add_column(column, justify="left" if column == "intent" else "right")
    for intent in INTENTS:
        group = by_intent.get(intent, [])
        if group:
            right = sum(v.passed for v in group)
            table.add_row(intent, str(len(group)), str(right), f"{right / len(group):.0%}")
    right = sum(v.passed for v in verdicts)
    table.add_row("overall", str(len(verdicts)), str(right), f"{right / max(1, len(verdicts)):.1%}", style="bold")
    console.print(table)
    leaky = [v for v in verdicts if v.leaks]
    console.print(f"answers showing another Team's things (leaks): {len(leaky)}")
    for verdict in leaky:
        console.print(f"  LEAK {verdict.question['id']} ({verdict.question['asker']}): {verdict.leaks}")
    seconds = [v.reply.seconds for v in verdicts]
    console.print(
        f"ask latency: p50 {percentile(seconds, 0.5) * 1000:.0f} ms, p95 {percentile(seconds, 0.95) * 1000:.0f} ms, "
        f"mean {statistics.mean(seconds) * 1000:.0f} ms over {len(seconds)} questions"
    )
    for verdict in sorted(verdicts, key=lambda v: -v.reply.seconds)[:slowest]:
        q = verdict.question
        line = f"  {verdict.reply.seconds * 1000:.0f} ms {q['id']} [{q['intent']}]: {q['question']}"
        console.print(line, markup=False)
    errors = [v for v in verdicts if v.reply.error]
    if errors:
        console.print(f"asks that ended in an error: {len(errors)} ({sorted({v.reply.error for v in errors})})")
    if show_failures:
        for verdict in verdicts:
            if verdict.passed:
                continue
            q = verdict.question
            console.print(f"\n[bold]FAIL {q['id']}[/bold] [{q['intent']}] {q['asker']}: {q['question']}", markup=True)
            console.print(f"  why: {'; '.join(verdict.failures)}", markup=False)
            console.print(f"  answer: {verdict.reply.answer[:600]}", markup=False)
            console.print(f"  cites: {[c.get('name') for c in verdict.reply.citations]}", markup=False)
            for run in verdict.reply.sql_runs:
                rows = (run.get("rows") or [])[:3]
                console.print(f"  sql: {run.get('sql')} -> {run.get('status')} {rows}", markup=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (pagila, dbt, spider_dev)")
    parser.add_argument("--small", action="store_true", help="the demo workspace only, its questions only")
    parser.add_argument("--slice", action="store_true", help="only the questions marked for the test slice")
    parser.add_argument("--show-failures", action="store_true", help="print each failed question with its answer")
    parser.add_argument("--slowest", type=int, default=0, help="print the N slowest questions")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    args = parser.parse_args()
    console = Console()
    questions = load_questions(args.questions)
    if args.small:
        questions = [q for q in questions if q["source"] == "demo"]
    if args.slice:
        questions = [q for q in questions if q.get("slice")]
    started = time.perf_counter()
    with build(args.data, small=args.small, progress=console) as world:
        console.print(f"world built in {time.perf_counter() - started:.1f} s; asking {len(questions)} questions")
        verdicts = evaluate(world, questions)
    report(console, verdicts, args.show_failures, args.slowest)


if __name__ == "__main__":
    main()
