"""Answers that run SQL: the builder's query on the best table the person may query, a preview of a named
table, or the refusal that names what no table explains."""

from __future__ import annotations

import json
from typing import Any

import sqlglot

from datadesk.ai.local import render
from datadesk.ai.local import sql as local_sql
from datadesk.ai.local.conversation import NO_ANSWER, TABLES, State, ask, call, fetch, search_more
from datadesk.ai.local.sources import keys_of
from datadesk.ai.local.text import KIND_WORDS, STOPWORDS, singular, words
from datadesk.ai.local.understand import Understood
from datadesk.ai.providers.base import ChatResponse
from datadesk.connectors.registry import SQL_DIALECTS

SENSITIVE = {"pii", "sensitive", "restricted"}


def _sql_candidates(state: State, u: Understood) -> list[dict[str, Any]]:
    """Tables the question names (or whose columns it names), then retrieval's best: those the person may query
    first, a dbt face (which runs nowhere) last."""
    named = [t.card for t in u.things() if t.card.get("type") in TABLES]
    ranked = [c for c in state.cards if c.get("type") in TABLES]
    seen: dict[str, dict[str, Any]] = {}
    for card in named + ranked:
        seen.setdefault(card["id"], card)
    order = {card_id: i for i, card_id in enumerate(seen)}
    cards = sorted(seen.values(), key=lambda c: (not c.get("queryable"), _is_dbt(c), order[c["id"]]))
    if u.sources:  # "how many actors are in pagila": that source's tables only, when it has any here
        cards = [c for c in cards if keys_of(c) & set(u.sources)] or cards
    return cards[:4]


def _is_dbt(card: dict[str, Any]) -> bool:
    return str(card.get("qualified_name", "")).split(".", 1)[0] in ("model", "source", "seed", "snapshot")


def sql_answer(state: State, u: Understood) -> ChatResponse:
    candidates = _sql_candidates(state, u)
    if not candidates:
        return search_more(state, u, "table") or ChatResponse(NO_ANSWER)
    refused = {r.get("integration_id") for r in _sql_failures(state, "no_query_access")}
    usable = [c for c in candidates if c.get("integration_id") not in refused]
    step = fetch(state, *usable[:3])
    if step is not None:
        return step
    tables = [without_sensitive(state.full(c) or c) for c in usable]
    draft = _draft(u.data_question, tables)
    done = _last_sql(state)
    if done is not None and done[1].get("status") == "succeeded":
        sql, result, table = done[0], done[1], _table_of(state, done[2], done[0])
        shown = "the result is shown below" if result.get("rows_returned") else "no rows came back"
        used = f" on {render.name(table)}" if table else ""
        what = draft.explanation if draft.sql == sql else "It shows some of the rows."
        return ChatResponse(f"I ran this query{used}; {shown}.\n\n```sql\n{sql}\n```\n\n{what}".rstrip())
    table = next((t for t in tables if t["id"] in draft.table_ids), tables[0])
    if "run_sql" not in state.tools:
        cannot = (
            "I cannot run SQL for you here: that needs Run SQL switched on by an admin and query access on the "
            f"integration of {render.name(table)}."
        )
        if draft.sql is None:
            return ChatResponse(f"{cannot} {_declined(state, draft, tables).text}")
        return ChatResponse(f"{cannot} This query would answer it:\n\n```sql\n{draft.sql}\n```")
    if draft.sql is None:
        return _declined(state, draft, tables)
    if done is not None:  # it ran and failed for a reason another table would not fix
        error = (done[1].get("error") or {}).get("message", "it was refused")
        return ChatResponse(
            f"I wrote this query on {render.name(table)}, but it did not run: {error}\n\n```sql\n{draft.sql}\n```"
        )
    return ask(call("run_sql", {"integration_id": table.get("integration_id", ""), "sql": draft.sql}))


def without_sensitive(card: dict[str, Any]) -> dict[str, Any]:
    """A card whose sensitive columns the SQL will not read (the guard would refuse them)."""
    columns = [c for c in card.get("columns", []) if not SENSITIVE & set(c.get("tags", []))]
    return {**card, "columns": columns} if "columns" in card else card


_COUNTING = ("how many", "number of", "count of", "count the")
_VIEW_PREFIX = ("v", "vw", "view")
_COUNT_WORDS = frozenset("how many number count still currently now exist total".split())


def view_count(question: str, tables: list[dict[str, Any]]) -> local_sql.Draft | None:
    """A count that a view's name states whole: "how many invoices are still open" is v_open_invoices' row count.

    Only when every word the question carries beyond filler is a word of the view's name, in any order."""
    asked_text = question.lower()
    if not any(c in asked_text for c in _COUNTING):
        return None
    asked = {singular(w) for w in words(question)} - STOPWORDS - KIND_WORDS - _COUNT_WORDS
    for card in tables:
        named = [singular(w) for w in words(str(card["name"]))]
        named = named[1:] if len(named) > 1 and named[0] in _VIEW_PREFIX else named
        if card.get("type") == "view" and len(named) > 1 and asked and asked == set(named):
            query = sqlglot.select(sqlglot.exp.Count(this=sqlglot.exp.Star())).from_(_relation(card))
            sql = query.sql(dialect=SQL_DIALECTS.get(str(card.get("engine", ""))))
            return local_sql.Draft(sql, [card["id"]], f"Counts rows of the view {card['name']}.", [])
    return None


def _draft(question: str, tables: list[dict[str, Any]]) -> local_sql.Draft:
    """The first table that explains every part of the question on its own, best ranked first; else all of them
    together (for a join); else the refusal naming what no table explains."""
    counted = view_count(question, tables)
    if counted is not None:
        return counted
    tables = [t for t in tables if t.get("columns")] or tables  # one not fetched has nothing to build on
    attempts = [[t] for t in tables] + ([tables] if len(tables) > 1 else [])
    drafts = []
    for attempt in attempts:
        draft = local_sql.build(question, attempt, dialect=SQL_DIALECTS.get(str(attempt[0].get("engine", ""))))
        if draft.sql is not None:
            return draft
        drafts.append(draft)
    return min(drafts, key=lambda d: len(d.unsupported)) if drafts else local_sql.build(question, [])


def _declined(state: State, draft: local_sql.Draft, tables: list[dict[str, Any]]) -> ChatResponse:
    unclear = ", ".join(f'"{part}"' for part in draft.unsupported) or "the question"
    best = tables[0]
    start = sqlglot.select(sqlglot.exp.Count(this=sqlglot.exp.Star()).as_("row_count")).from_(_relation(best))
    dialect = SQL_DIALECTS.get(str(best.get("engine", "")))
    return ChatResponse(
        f"I could not turn {unclear} into a query I can trust from the catalog's metadata, so I give no number "
        f"rather than a wrong one. The tables that look closest:\n"
        + render.bullets([render.name(t) for t in tables[:3]])
        + f"\n\nA draft to start from (not run):\n\n```sql\n{start.sql(dialect=dialect)}\n```"
    )


def _relation(card: dict[str, Any]) -> sqlglot.exp.Table:
    """The table as the engine names it: schema and name from the qualified name (the integration's prefix off)."""
    parts = str(card.get("qualified_name") or card["name"]).split(".")[-2:]
    return sqlglot.exp.table_(parts[-1], db=parts[0] if len(parts) == 2 else None, quoted=True)


def _sql_runs(state: State) -> list[tuple[str, dict[str, Any], str]]:
    runs = []
    for name, args, output in state.results:
        if name == "run_sql":
            try:
                result = json.loads(output)
            except json.JSONDecodeError:
                result = {"status": "failed", "error": {"message": output}}
            runs.append((str(args.get("sql", "")), result, str(args.get("integration_id", ""))))
    return runs


def _sql_failures(state: State, code: str) -> list[dict[str, Any]]:
    return [
        {"integration_id": integration}
        for _, result, integration in _sql_runs(state)
        if (result.get("error") or {}).get("code") == code
    ]


def _last_sql(state: State) -> tuple[str, dict[str, Any], str] | None:
    runs = _sql_runs(state)
    if not runs:
        return None
    last = runs[-1]
    if (last[1].get("error") or {}).get("code") == "no_query_access":
        return None if len(runs) < 3 else last  # try another integration's table, a few times
    return last


def _table_of(state: State, integration_id: str, sql: str = "") -> dict[str, Any] | None:
    """The table a query read, by the name it selects from, among that integration's cards."""
    cards = [c for c in state.cards if c.get("integration_id") == integration_id]
    try:
        read = sqlglot.parse_one(sql).find(sqlglot.exp.Table) if sql else None
    except sqlglot.errors.ParseError:
        read = None
    named = [c for c in cards if read is not None and str(c["name"]).lower() == read.name.lower()]
    return next(iter(named + cards), None)


_PREVIEW_WORDS = frozenset("some sample samples few preview example examples first data look like".split())


def rows_answer(state: State, u: Understood) -> ChatResponse:
    """Rows the builder can select; a plain preview of the named table when the question asks nothing more."""
    head = u.head(*TABLES)
    extra = [w for w in u.free_words() if w not in _PREVIEW_WORDS and not w.isdigit()]
    if head is None or extra or _last_sql(state) is not None:
        return sql_answer(state, u)
    card = head.card
    step = fetch(state, card)
    if step is not None:
        return step
    full = without_sensitive(state.full(card) or card)
    columns: list[sqlglot.exp.Expr] = [sqlglot.exp.column(c["name"], quoted=True) for c in full.get("columns", [])]
    wanted = next((int(w) for w in u.tokens if w.isdigit() and 0 < int(w) <= 100), 20)
    query = sqlglot.select(*(columns or [sqlglot.exp.Star()])).from_(_relation(full)).limit(wanted)
    sql = query.sql(dialect=SQL_DIALECTS.get(str(full.get("engine", ""))))
    if "run_sql" not in state.tools:
        return ChatResponse(
            f"I cannot run SQL for you here: that needs Run SQL switched on by an admin and query access on the "
            f"integration of {render.name(card)}. This query would show its rows:\n\n```sql\n{sql}\n```"
        )
    return ask(call("run_sql", {"integration_id": full.get("integration_id", ""), "sql": sql}))
