"""The local provider: offline and deterministic, it answers catalog questions from the metadata it is given.

It is a "model" like the others: it reads the same egress-built request (the fenced metadata and the
tool results) and answers with text or tool calls, so the tool loop, the audit log and the receipt
work the same way. Nothing leaves this server. Understanding lives in datadesk.ai.local: the intent
classifier, linking to catalog things, and SQL built from metadata.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlglot
from rapidfuzz import fuzz

from datadesk.ai.local import render
from datadesk.ai.local import sql as local_sql
from datadesk.ai.local.linking import Thing
from datadesk.ai.local.text import KIND_WORDS, STOPWORDS, singular, words
from datadesk.ai.local.understand import MIN_SCORE, Understood, understand
from datadesk.ai.providers.base import ChatRequest, ChatResponse, Deadline, ToolCall, WireLog

MODEL = "datadesk-local-1"
NO_ANSWER = "The catalog holds no answer to that."
SENSITIVE = {"pii", "sensitive", "restricted"}
TABLES = ("table", "view")
_FENCE = re.compile(r"<catalog_metadata[^>]*>\n(.*?)\n</catalog_metadata>", re.S)


@dataclass
class _State:
    question: str
    cards: list[dict[str, Any]]  # from the question's context and every tool result so far
    results: list[tuple[str, dict[str, Any], str]]  # (tool name, arguments, output text)
    tools: set[str]

    def ran(self, name: str, args: dict[str, Any]) -> str | None:
        """The output of a tool call already made with these arguments."""
        return next((out for n, a, out in self.results if n == name and a == args), None)

    def full(self, card: dict[str, Any]) -> dict[str, Any] | None:
        """The card as get_resource returned it (all columns, lineage), once fetched."""
        for name, args, output in reversed(self.results):
            if name == "get_resource" and args.get("resource_id") == card["id"]:
                return next((c for c in _cards(output) if c["id"] == card["id"]), dict(card))
        return None


class LocalProvider:
    name = "local"

    def complete(self, request: ChatRequest, wire: WireLog, deadline: Deadline) -> ChatResponse:
        return _answer(_state(request))


def _state(request: ChatRequest) -> _State:
    question, cards = "", []
    calls: dict[str, ToolCall] = {}
    results: list[tuple[str, dict[str, Any], str]] = []
    for message in request.messages:
        if message.role == "user":
            text = message.content
            question = text.rsplit("Question:", 1)[-1].strip() if "Question:" in text else text.strip()
            cards = _cards(text)
            calls, results = {}, []
        elif message.role == "assistant":
            calls.update({c.id: c for c in message.tool_calls})
        elif message.role == "tool" and message.tool_call_id in calls:
            call = calls[message.tool_call_id]
            results.append((call.name, call.arguments or {}, message.content))
            cards += _cards(message.content)
    return _State(question, cards, results, {t.name for t in request.tools})


def _cards(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for block in _FENCE.findall(text):
        try:
            found += [c for c in json.loads(block) if isinstance(c, dict) and "id" in c and "name" in c]
        except json.JSONDecodeError:
            continue
    return found


def _call(name: str, args: dict[str, Any], n: int = 0) -> ToolCall:
    return ToolCall(f"local-{name}-{n}", name, args)


def _ask(*calls: ToolCall) -> ChatResponse:
    return ChatResponse("", list(calls))


def _answer(state: _State) -> ChatResponse:
    u = understand(state.question, state.cards)
    handler = _HANDLERS.get(u.intent, _describe)
    if u.score < MIN_SCORE and not u.mentions:
        handler = _describe
    return handler(state, u)


def _search_more(state: _State, u: Understood, type_: str | None = None) -> ChatResponse | None:
    """One search with the question's content words, when it has not been made yet."""
    query = " ".join(u.content_words()) or u.question
    args: dict[str, Any] = {"query": query[:200]}
    if type_:
        args["type"] = type_
    if any(n == "search_catalog" for n, _, _ in state.results) or not query.strip():
        return None
    return _ask(_call("search_catalog", args))


def _subject(state: _State, u: Understood, *types: str) -> tuple[Thing | None, ChatResponse | None]:
    """The thing the question is about, searching the catalog once when the context does not name it."""
    found = u.things(*types)
    if found:
        return found[0], None
    return None, _search_more(state, u) or _closest(state, u)


def _closest(state: _State, u: Understood) -> ChatResponse:
    """Nothing is named: what the catalog search found for the question's words, if anything."""
    hits = [c for n, _, out in state.results if n == "search_catalog" for c in _cards(out)]
    asked = [w for w in u.content_words() if len(w) >= 3]
    hits = [
        c
        for c in hits
        if c.get("type") not in ("column", "database", "schema") and _shares_a_word(asked, str(c["name"]))
    ]
    hits = list({c["id"]: c for c in hits}.values())[:3]
    if not hits:
        return ChatResponse(NO_ANSWER)
    return ChatResponse(
        f'Nothing in the catalog you can see is named "{" ".join(u.content_words())}". The closest matches:\n'
        + render.bullets([render.name(c) for c in hits])
    )


def _shares_a_word(asked: list[str], name: str) -> bool:
    """A search hit is offered as "closest" only when its name carries one of the question's words."""
    return any(
        fuzz.ratio(singular(a), singular(w)) >= 80 or (len(a) >= 5 and a in w) for a in asked for w in words(name)
    )


def _fetch(state: _State, *cards: dict[str, Any]) -> ChatResponse | None:
    """get_resource for cards not yet fetched in full (one step, several calls)."""
    missing = [c for c in dict((c["id"], c) for c in cards).values() if state.full(c) is None]
    if not missing:
        return None
    return _ask(*(_call("get_resource", {"resource_id": c["id"]}, i) for i, c in enumerate(missing)))


# --- what a thing is, who owns it, what it holds ---------------------------------------------------


def _owner(state: _State, u: Understood) -> ChatResponse:
    thing, stop = _subject(state, u)
    if thing is None:
        return stop  # type: ignore[return-value]
    card = thing.card
    owners = card.get("owners") or []
    if not owners:
        return ChatResponse(f"{render.name(card)} has no owner recorded in the catalog.")
    return ChatResponse(f"{render.name(card)} is owned by {', '.join(owners)}.")


def _describe(state: _State, u: Understood) -> ChatResponse:
    thing, stop = _subject(state, u)
    if thing is None:
        return stop  # type: ignore[return-value]
    card, column = thing.card, thing.column
    if column is not None:
        full = state.full(card)
        if full is None and "description" not in column:
            return _fetch(state, card) or ChatResponse(NO_ANSWER)
        column = next((c for c in (full or card).get("columns", []) if c["name"] == column["name"]), column)
        text = column.get("description")
        kind = f" ({column['type']})" if column.get("type") else ""
        if not text:
            return ChatResponse(f"{render.column_of(card, column)}{kind}, has no description yet.")
        return ChatResponse(f"{render.column_of(card, column)}{kind}: {render.shorten(text)}")
    if card.get("type") in TABLES and state.full(card) is None and "column_names" in card:
        return _fetch(state, card) or ChatResponse(NO_ANSWER)
    card = state.full(card) or card
    text = card.get("definition") or card.get("description")
    if not text:
        extra = _column_summary(card)
        return ChatResponse(f"{render.name(card)} is in the catalog but has no description yet.{extra}")
    verb = "means" if card.get("type") == "glossary_term" else "is described as"
    return ChatResponse(f"{render.name(card)} {verb}: {render.shorten(text)}{_column_summary(card)}")


def _column_summary(card: dict[str, Any]) -> str:
    names = [c["name"] for c in card.get("columns", [])] or list(card.get("column_names", []))
    if not names:
        return ""
    shown = ", ".join(f"`{n}`" for n in names[:15])
    more = f" and {len(names) - 15} more" if len(names) > 15 else ""
    return f"\n\nColumns: {shown}{more}."


def _columns(state: _State, u: Understood) -> ChatResponse:
    thing, stop = _subject(state, u, *TABLES, "dashboard")
    if thing is None:
        return stop  # type: ignore[return-value]
    card = thing.card
    if state.full(card) is None:
        return _fetch(state, card) or ChatResponse(NO_ANSWER)
    full = state.full(card) or card
    columns = full.get("columns") or []
    if not columns:
        return ChatResponse(f"The catalog lists no columns for {render.name(card)}.")
    lines = "\n".join(render.column_line(c) for c in columns)
    return ChatResponse(f"{render.name(card)} has {len(columns)} columns:\n{lines}")


def _compare(state: _State, u: Understood) -> ChatResponse:
    things = u.things()
    if len(things) < 2:
        return _describe(state, u)
    a, b = things[0].card, things[1].card
    fetch = _fetch(state, *(c for c in (a, b) if c.get("type") in TABLES))
    if fetch is not None:
        return fetch
    a, b = state.full(a) or a, state.full(b) or b
    parts = []
    for card in (a, b):
        text = card.get("definition") or card.get("description") or "no description yet"
        parts.append(f"{render.name(card)}: {render.shorten(text, 300)}")
    shared = sorted({c["name"] for c in a.get("columns", [])} & {c["name"] for c in b.get("columns", [])})
    tail = f"\n\nColumns in both: {', '.join(f'`{n}`' for n in shared)}." if shared else ""
    return ChatResponse(render.bullets(parts) + tail)


# --- lineage and links -----------------------------------------------------------------------------


def _lineage(state: _State, u: Understood, key: str, dashboards_only: bool = False) -> ChatResponse:
    thing, stop = _subject(state, u, *TABLES) if dashboards_only else _subject(state, u, *TABLES, "dashboard")
    if thing is None:
        return stop  # type: ignore[return-value]
    card = thing.card
    fetch = _fetch(state, card)
    if fetch is not None:
        return fetch
    full = state.full(card) or card
    names = list(full.get(key) or [])
    if dashboards_only:
        listed = _listed(state, {"type": "dashboard", "limit": 25})
        if listed is None:
            return _ask(_call("list_resources", {"type": "dashboard", "limit": 25}))
        dashboards = {c["qualified_name"] for c in listed}
        names = [n for n in names if n in dashboards]
        if not names:
            return ChatResponse(f"No dashboard you can see is built directly on {render.name(card)}.")
    if not names:
        verb = "feeds" if key == "upstream" else "uses"
        return ChatResponse(f"The catalog records nothing that {verb} {render.name(card)}.")
    known = {c.get("qualified_name"): c for c in state.cards}
    lines = [render.name(known[n]) if n in known else f"`{n}`" for n in names]
    title = {
        "upstream": f"{render.name(card)} is built from:",
        "downstream": f"These depend on {render.name(card)} and may break if it changes:",
    }[key]
    if dashboards_only:
        title = f"Dashboards built on {render.name(card)}:"
    return ChatResponse(title + "\n" + render.bullets(lines))


def _upstream(state: _State, u: Understood) -> ChatResponse:
    return _lineage(state, u, "upstream")


def _downstream(state: _State, u: Understood) -> ChatResponse:
    return _lineage(state, u, "downstream")


def _dashboards(state: _State, u: Understood) -> ChatResponse:
    if not u.things(*TABLES):
        return _list_kind(state, u)
    return _lineage(state, u, "downstream", dashboards_only=True)


def _joins(state: _State, u: Understood) -> ChatResponse:
    things = [t for t in u.things(*TABLES)]
    tables = list({t.card["id"]: t.card for t in things}.values())
    if len(tables) < 2:
        return _describe(state, u)
    a, b = tables[0], tables[1]
    fetch = _fetch(state, a, b)
    if fetch is not None:
        return fetch
    a, b = state.full(a) or a, state.full(b) or b
    keys = _join_keys(a, b) + _join_keys(b, a)
    if not keys:
        shared = sorted({c["name"] for c in a.get("columns", [])} & {c["name"] for c in b.get("columns", [])})
        if shared:
            return ChatResponse(
                f"The catalog declares no key between {render.name(a)} and {render.name(b)}; both have "
                + ", ".join(f"`{n}`" for n in shared)
                + ", which may be the join column."
            )
        return ChatResponse(f"The catalog declares no key between {render.name(a)} and {render.name(b)}.")
    return ChatResponse(f"Join {render.name(a)} and {render.name(b)} on:\n" + render.bullets(keys))


def _join_keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    found = []
    for column in a.get("columns", []):
        target = str(column.get("references") or "")
        parts = target.split(".")
        if len(parts) >= 2 and parts[-2] == b["name"]:
            found.append(f"`{a['name']}.{column['name']}` = `{b['name']}.{parts[-1]}`")
    return found


# --- lists -----------------------------------------------------------------------------------------


def _listed(state: _State, args: dict[str, Any]) -> list[dict[str, Any]] | None:
    out = state.ran("list_resources", args)
    return None if out is None else _cards(out)


def _tagged(state: _State, u: Understood) -> ChatResponse:
    asked = u.free_words() or [t.name for t in u.things()]
    tries = list(dict.fromkeys(["_".join(asked), *asked])) if asked else []
    tries = [t for t in tries if t][:3]
    if not tries:
        return ChatResponse('Which tag do you mean? Ask, for example, "which tables are tagged pii?".')
    for tag in tries:
        args = {"tag": tag}
        found = _listed(state, args)
        if found is None:
            return _ask(_call("list_resources", args))
        if found:
            return ChatResponse(f"Tagged **{tag}**:\n" + render.bullets([render.name(c) for c in found]))
    return ChatResponse(f"Nothing you can see is tagged {' or '.join(tries)}.")


def _owned_by(state: _State, u: Understood) -> ChatResponse:
    who = " ".join(u.free_words()) or " ".join(t.name for t in u.things())
    if not who:
        return ChatResponse(NO_ANSWER)
    args = {"owner": who}
    found = _listed(state, args)
    if found is None:
        return _ask(_call("list_resources", args))
    if not found:
        return ChatResponse(f"Nothing you can see is owned by {who}.")
    return ChatResponse(f"Owned by {who}:\n" + render.bullets([render.name(c) for c in found]))


def _popular(state: _State, u: Understood) -> ChatResponse:
    args: dict[str, Any] = {"type": "table", "order_by": "popularity", "limit": 10}
    team = " ".join(w for w in u.free_words() if w not in ("most", "popular", "used", "top"))
    if team:
        args["team"] = team
    found = _listed(state, args)
    if found is None:
        return _ask(_call("list_resources", args))
    if not found and team:  # the words were not a Team's name: the most popular of all
        return _popular(state, Understood(u.question, [], [], u.intent, u.score))
    place = f" in {team}" if team else ""
    if not found:
        return ChatResponse(f"No tables{place} that you can see.")
    lines = [f"{render.name(c)}: popularity {int(c.get('popularity', 0))}" for c in found]
    return ChatResponse(f"Most used tables{place}:\n" + render.bullets(lines))


def _where_is(state: _State, u: Understood) -> ChatResponse:
    named = [t.card for t in u.things() if t.column is None]
    if not named:
        more = _search_more(state, u)
        if more is not None:
            return more
    asked = [w for w in u.content_words() if len(w) >= 3]
    pool = named or [c for c in state.cards if c.get("type") in (*TABLES, "glossary_term", "document", "dashboard")]
    pool = list({c["id"]: c for c in pool}.values())
    if not named:  # the cards whose names carry the question's words, most first
        shared = {c["id"]: sum(_shares_a_word([a], str(c["name"])) for a in asked) for c in pool}
        pool = sorted((c for c in pool if shared[c["id"]]), key=lambda c: -shared[c["id"]])
    if not pool:
        return ChatResponse(NO_ANSWER)
    lines = []
    for card in pool[:5]:
        text = card.get("description") or card.get("definition") or ""
        lines.append(render.name(card) + (f": {render.shorten(text, 160)}" if text else ""))
    return ChatResponse("The best places to look:\n" + render.bullets(lines))


def _column_like(state: _State, u: Understood) -> ChatResponse:
    word = "_".join(u.free_words()) or "_".join(t.name for t in u.things())
    if not word:
        return ChatResponse(NO_ANSWER)
    args = {"query": word, "type": "column"}
    out = state.ran("search_catalog", args)
    if out is None:
        return _ask(_call("search_catalog", args))
    columns = [c for c in _cards(out) if word.replace("_", "") in c["name"].replace("_", "").lower()] or _cards(out)
    if not columns:
        return ChatResponse(f"No table you can see has a column like {word}.")
    return ChatResponse(f"Columns like {word}:\n" + render.bullets([render.name(c) for c in columns]))


def _tags_of(state: _State, u: Understood) -> ChatResponse:
    thing, stop = _subject(state, u)
    if thing is None:
        return stop  # type: ignore[return-value]
    card = state.full(thing.card) or thing.card
    tags = list(card.get("tags") or [])
    columns = {c["name"]: c.get("tags") for c in card.get("columns", []) if c.get("tags")}
    if not tags and not columns:
        return ChatResponse(f"{render.name(card)} has no tags.")
    lines = [
        f"{render.name(card)} is tagged {', '.join(f'**{t}**' for t in tags)}."
        if tags
        else f"{render.name(card)} has no tags of its own."
    ]
    if columns:
        lines.append("Its columns: " + "; ".join(f"`{n}`: {', '.join(t)}" for n, t in columns.items()) + ".")
    return ChatResponse(" ".join(lines))


_KINDS = {
    "dashboard": "dashboard",
    "glossary": "glossary_term",
    "term": "glossary_term",
    "document": "document",
    "doc": "document",
    "view": "view",
    "table": "table",
}


def _list_kind(state: _State, u: Understood) -> ChatResponse:
    kind = next((_KINDS[singular(w)] for w in u.tokens if singular(w) in _KINDS), None)
    if kind is None:
        return _where_is(state, u)
    args: dict[str, Any] = {"type": kind, "limit": 25}
    found = _listed(state, args)
    if found is None:
        return _ask(_call("list_resources", args))
    label = kind.replace("_", " ")
    if not found:
        return ChatResponse(f"There is no {label} you can see.")
    return ChatResponse(f"The {label}s you can see:\n" + render.bullets([render.name(c) for c in found]))


def _help(state: _State, u: Understood) -> ChatResponse:
    if u.mentions:
        return _describe(state, u)
    return ChatResponse(
        "I answer questions about the catalog you can see: what a table or term means, who owns it, its columns "
        "and tags, what feeds it and what uses it, how two tables join, and where to find data. With Run SQL on "
        "and query access, I also count, sum and list rows for you."
    )


# --- SQL -------------------------------------------------------------------------------------------


def _sql_candidates(state: _State, u: Understood) -> list[dict[str, Any]]:
    """Tables the question names (or whose columns it names), then retrieval's best: those the person may query
    first, a dbt face (which runs nowhere) last."""
    named = [t.card for t in u.things() if t.card.get("type") in TABLES]
    ranked = [c for c in state.cards if c.get("type") in TABLES]
    seen: dict[str, dict[str, Any]] = {}
    for card in named + ranked:
        seen.setdefault(card["id"], card)
    order = {card_id: i for i, card_id in enumerate(seen)}
    cards = sorted(seen.values(), key=lambda c: (not c.get("queryable"), _is_dbt(c), order[c["id"]]))
    return cards[:4]


def _is_dbt(card: dict[str, Any]) -> bool:
    return str(card.get("qualified_name", "")).split(".", 1)[0] in ("model", "source", "seed", "snapshot")


def _sql(state: _State, u: Understood) -> ChatResponse:
    candidates = _sql_candidates(state, u)
    if not candidates:
        return _search_more(state, u, "table") or ChatResponse(NO_ANSWER)
    refused = {r.get("integration_id") for r in _sql_failures(state, "no_query_access")}
    usable = [c for c in candidates if c.get("integration_id") not in refused]
    fetch = _fetch(state, *usable[:3])
    if fetch is not None:
        return fetch
    tables = [_without_sensitive(state.full(c) or c) for c in usable]
    draft = _draft(u.question, tables)
    done = _last_sql(state)
    if done is not None and done[1].get("status") == "succeeded":
        sql, result, table = done[0], done[1], _table_of(state, done[2])
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
    return _ask(_call("run_sql", {"integration_id": table.get("integration_id", ""), "sql": draft.sql}))


_DIALECTS = {"postgres": "postgres", "mysql": "mysql", "sqlite": "sqlite", "duckdb": "duckdb"}


def _without_sensitive(card: dict[str, Any]) -> dict[str, Any]:
    """A card whose sensitive columns the SQL will not read (the guard would refuse them)."""
    columns = [c for c in card.get("columns", []) if not SENSITIVE & set(c.get("tags", []))]
    return {**card, "columns": columns} if "columns" in card else card


_COUNTING = ("how many", "number of", "count of", "count the")
_VIEW_PREFIX = ("v", "vw", "view")
_COUNT_WORDS = frozenset("how many number count still currently now exist total".split())


def _view_count(question: str, tables: list[dict[str, Any]]) -> local_sql.Draft | None:
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
            sql = query.sql(dialect=_DIALECTS.get(str(card.get("engine", ""))))
            return local_sql.Draft(sql, [card["id"]], f"Counts rows of the view {card['name']}.", [])
    return None


def _draft(question: str, tables: list[dict[str, Any]]) -> local_sql.Draft:
    """The first table that explains every part of the question on its own, best ranked first; else all of them
    together (for a join); else the refusal naming what no table explains."""
    counted = _view_count(question, tables)
    if counted is not None:
        return counted
    attempts = [[t] for t in tables] + ([tables] if len(tables) > 1 else [])
    drafts = []
    for attempt in attempts:
        draft = local_sql.build(question, attempt, dialect=_DIALECTS.get(str(attempt[0].get("engine", ""))))
        if draft.sql is not None:
            return draft
        drafts.append(draft)
    return min(drafts, key=lambda d: len(d.unsupported)) if drafts else local_sql.build(question, [])


def _declined(state: _State, draft: local_sql.Draft, tables: list[dict[str, Any]]) -> ChatResponse:
    unclear = ", ".join(f'"{part}"' for part in draft.unsupported) or "the question"
    best = tables[0]
    start = sqlglot.select(sqlglot.exp.Count(this=sqlglot.exp.Star()).as_("row_count")).from_(_relation(best))
    dialect = _DIALECTS.get(str(best.get("engine", "")))
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


def _sql_runs(state: _State) -> list[tuple[str, dict[str, Any], str]]:
    runs = []
    for name, args, output in state.results:
        if name == "run_sql":
            try:
                result = json.loads(output)
            except json.JSONDecodeError:
                result = {"status": "failed", "error": {"message": output}}
            runs.append((str(args.get("sql", "")), result, str(args.get("integration_id", ""))))
    return runs


def _sql_failures(state: _State, code: str) -> list[dict[str, Any]]:
    return [
        {"integration_id": integration}
        for _, result, integration in _sql_runs(state)
        if (result.get("error") or {}).get("code") == code
    ]


def _last_sql(state: _State) -> tuple[str, dict[str, Any], str] | None:
    runs = _sql_runs(state)
    if not runs:
        return None
    last = runs[-1]
    if (last[1].get("error") or {}).get("code") == "no_query_access":
        return None if len(runs) < 3 else last  # try another integration's table, a few times
    return last


def _table_of(state: _State, integration_id: str) -> dict[str, Any] | None:
    return next((c for c in state.cards if c.get("integration_id") == integration_id), None)


_PREVIEW_WORDS = frozenset("some sample samples few preview example examples first data look like".split())


def _rows(state: _State, u: Understood) -> ChatResponse:
    """Rows the builder can select; a plain preview of the named table when the question asks nothing more."""
    tables = u.things(*TABLES)
    extra = [w for w in u.free_words() if w not in _PREVIEW_WORDS and not w.isdigit()]
    if not tables or extra or _last_sql(state) is not None:
        return _sql(state, u)
    card = tables[0].card
    fetch = _fetch(state, card)
    if fetch is not None:
        return fetch
    full = _without_sensitive(state.full(card) or card)
    columns: list[sqlglot.exp.Expr] = [sqlglot.exp.column(c["name"], quoted=True) for c in full.get("columns", [])]
    wanted = next((int(w) for w in u.tokens if w.isdigit() and 0 < int(w) <= 100), 20)
    query = sqlglot.select(*(columns or [sqlglot.exp.Star()])).from_(_relation(full)).limit(wanted)
    sql = query.sql(dialect=_DIALECTS.get(str(full.get("engine", ""))))
    if "run_sql" not in state.tools:
        return ChatResponse(
            f"I cannot run SQL for you here: that needs Run SQL switched on by an admin and query access on the "
            f"integration of {render.name(card)}. This query would show its rows:\n\n```sql\n{sql}\n```"
        )
    return _ask(_call("run_sql", {"integration_id": full.get("integration_id", ""), "sql": sql}))


_HANDLERS: dict[str, Callable[[_State, Understood], ChatResponse]] = {
    "owner": _owner,
    "owned_by": _owned_by,
    "describe": _describe,
    "columns": _columns,
    "tagged": _tagged,
    "lineage_up": _upstream,
    "lineage_down": _downstream,
    "dashboards": _dashboards,
    "joins": _joins,
    "popular": _popular,
    "where_is": _where_is,
    "column_like": _column_like,
    "aggregate": _sql,
    "rows": _rows,
    "compare": _compare,
    "tags_of": _tags_of,
    "list_kind": _list_kind,
    "help": _help,
}
