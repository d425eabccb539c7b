"""The local provider: offline and deterministic, it answers catalog questions from the metadata it is given.

It is a "model" like the others: it reads the same egress-built request (the fenced metadata and the
tool results) and answers with text or tool calls, so the tool loop, the audit log and the receipt
work the same way. Nothing leaves this server. Understanding lives in datadesk.ai.local: the intent
classifier, linking to catalog things, and SQL built from metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from datadesk.ai.local import lineage, querying, ranking, render
from datadesk.ai.local.conversation import (
    NO_ANSWER,
    TABLES,
    State,
    ask,
    call,
    cards_in,
    fetch,
    listed,
    read_state,
    search_more,
    subject,
)
from datadesk.ai.local.linking import Thing
from datadesk.ai.local.text import singular
from datadesk.ai.local.understand import MIN_SCORE, Understood, understand
from datadesk.ai.providers.base import ChatRequest, ChatResponse, Deadline, WireLog

MODEL = "datadesk-local-1"


class LocalProvider:
    name = "local"

    def complete(self, request: ChatRequest, wire: WireLog, deadline: Deadline) -> ChatResponse:
        return _answer(read_state(request))


def _answer(state: State) -> ChatResponse:
    u = understand(state.question, state.cards)
    handler = _HANDLERS.get(u.intent, _describe)
    if u.score < MIN_SCORE and not u.mentions:
        handler = _describe
    return handler(state, u)


# --- what a thing is, who owns it, what it holds ---------------------------------------------------


def _owner(state: State, u: Understood) -> ChatResponse:
    thing, stop = subject(state, u)
    if thing is None:
        return stop  # type: ignore[return-value]
    card = thing.card
    owners = card.get("owners") or []
    if not owners:
        return ChatResponse(f"{render.name(card)} has no owner recorded in the catalog.")
    return ChatResponse(f"{render.name(card)} is owned by {', '.join(owners)}.")


def _describe(state: State, u: Understood) -> ChatResponse:
    thing, stop = subject(state, u)
    if thing is None:
        return stop  # type: ignore[return-value]
    card, column = thing.card, thing.column
    if column is not None:
        full = state.full(card)
        if full is None and "description" not in column:
            return fetch(state, card) or ChatResponse(NO_ANSWER)
        column = next((c for c in (full or card).get("columns", []) if c["name"] == column["name"]), column)
        text = column.get("description")
        kind = f" ({column['type']})" if column.get("type") else ""
        if not text:
            return ChatResponse(f"{render.column_of(card, column)}{kind}, has no description yet.")
        return ChatResponse(f"{render.column_of(card, column)}{kind}: {render.shorten(text)}")
    if card.get("type") in TABLES and state.full(card) is None and "column_names" in card:
        return fetch(state, card) or ChatResponse(NO_ANSWER)
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


def _columns(state: State, u: Understood) -> ChatResponse:
    thing, stop = subject(state, u, *TABLES, "dashboard")
    if thing is None:
        return stop  # type: ignore[return-value]
    card = thing.card
    if state.full(card) is None:
        return fetch(state, card) or ChatResponse(NO_ANSWER)
    full = state.full(card) or card
    columns = full.get("columns") or []
    if not columns:
        return ChatResponse(f"The catalog lists no columns for {render.name(card)}.")
    lines = "\n".join(render.column_line(c) for c in columns)
    return ChatResponse(f"{render.name(card)} has {len(columns)} columns:\n{lines}")


def _compare(state: State, u: Understood) -> ChatResponse:
    things = _distinct(u.things())
    if len(things) < 2:  # "MQL vs SQL": both name one glossary term, whose definition sets them apart
        return _describe(state, u)
    a, b = things[0], things[1]
    step = fetch(state, *(t.card for t in (a, b) if t.card.get("type") in TABLES))
    if step is not None:
        return step
    parts = [_summary(state, a), _summary(state, b)]
    tail = ""
    if a.column is None and b.column is None:
        first, second = state.full(a.card) or a.card, state.full(b.card) or b.card
        shared = sorted({c["name"] for c in first.get("columns", [])} & {c["name"] for c in second.get("columns", [])})
        tail = f"\n\nColumns in both: {', '.join(f'`{n}`' for n in shared)}." if shared else ""
    return ChatResponse(render.bullets(parts) + tail)


def _distinct(things: list[Thing]) -> list[Thing]:
    seen: dict[tuple[str, str], Thing] = {}
    for thing in things:
        seen.setdefault((thing.card["id"], thing.name if thing.column is not None else ""), thing)
    return list(seen.values())


def _summary(state: State, thing: Thing) -> str:
    """One side of a comparison: what the thing is, in a few sentences."""
    card = state.full(thing.card) or thing.card
    if thing.column is not None:
        column = next((c for c in card.get("columns", []) if c["name"] == thing.name), thing.column)
        text = column.get("description") or "no description yet"
        return f"{render.column_of(card, column)}: {render.shorten(text, 300)}"
    text = card.get("definition") or card.get("description") or "no description yet"
    return f"{render.name(card)}: {render.shorten(text, 300)}"


# --- lineage and links -----------------------------------------------------------------------------


def _lineage(state: State, u: Understood, key: str, dashboards_only: bool = False) -> ChatResponse:
    thing, stop = subject(state, u, *TABLES) if dashboards_only else subject(state, u, *TABLES, "dashboard")
    if thing is None:
        return stop  # type: ignore[return-value]
    card = thing.card
    step = fetch(state, card)
    if step is not None:
        return step
    full = state.full(card) or card
    names = list(full.get(key) or [])
    if dashboards_only:
        shown = listed(state, {"type": "dashboard", "limit": 25})
        if shown is None:
            return ask(call("list_resources", {"type": "dashboard", "limit": 25}))
        dashboards = {c["qualified_name"] for c in shown}
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


def _upstream(state: State, u: Understood) -> ChatResponse:
    return lineage.answer(state, u, upstream=True) or _lineage(state, u, "upstream")


def _downstream(state: State, u: Understood) -> ChatResponse:
    return lineage.answer(state, u, upstream=False) or _lineage(state, u, "downstream")


def _dashboards(state: State, u: Understood) -> ChatResponse:
    if not u.things(*TABLES):
        return _list_kind(state, u)
    return _lineage(state, u, "downstream", dashboards_only=True)


def _joins(state: State, u: Understood) -> ChatResponse:
    things = [t for t in u.things(*TABLES)]
    tables = list({t.card["id"]: t.card for t in things}.values())
    if len(tables) < 2:
        return _describe(state, u)
    a, b = tables[0], tables[1]
    step = fetch(state, a, b)
    if step is not None:
        return step
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


def _tagged(state: State, u: Understood) -> ChatResponse:
    # A tag that is also a name ("product" and the products table) is tried as typed first.
    typed = ["_".join(u.tokens[m.start : m.end]) for m in u.mentions]
    asked = u.free_words() or typed
    tries = list(dict.fromkeys(["_".join(asked), *asked, *(t.name for t in u.things())])) if asked else []
    tries = [t for t in tries if t][:3]
    if not tries:
        return ChatResponse('Which tag do you mean? Ask, for example, "which tables are tagged pii?".')
    for tag in tries:
        args = {"tag": tag}
        found = listed(state, args)
        if found is None:
            return ask(call("list_resources", args))
        if found:
            return ChatResponse(f"Tagged **{tag}**:\n" + render.bullets([render.name(c) for c in found]))
    return ChatResponse(f"Nothing you can see is tagged {' or '.join(tries)}.")


def _owned_by(state: State, u: Understood) -> ChatResponse:
    who = " ".join(u.free_words()) or " ".join(t.name for t in u.things())
    if not who:
        return ChatResponse(NO_ANSWER)
    args = {"owner": who}
    found = listed(state, args)
    if found is None:
        return ask(call("list_resources", args))
    if not found:
        return ChatResponse(f"Nothing you can see is owned by {who}.")
    return ChatResponse(f"Owned by {who}:\n" + render.bullets([render.name(c) for c in found]))


def _popular(state: State, u: Understood) -> ChatResponse:
    args: dict[str, Any] = {"type": "table", "order_by": "popularity", "limit": 10}
    team = " ".join(w for w in u.free_words() if w not in ("most", "popular", "used", "top"))
    if team:
        args["team"] = team
    found = listed(state, args)
    if found is None:
        return ask(call("list_resources", args))
    if not found and team:  # the words were not a Team's name: the most popular of all
        return _popular(state, Understood(u.question, [], [], u.intent, u.score))
    place = f" in {team}" if team else ""
    if not found:
        return ChatResponse(f"No tables{place} that you can see.")
    lines = [f"{render.name(c)}: popularity {int(c.get('popularity', 0))}" for c in found]
    return ChatResponse(f"Most used tables{place}:\n" + render.bullets(lines))


def _where_is(state: State, u: Understood) -> ChatResponse:
    """The cards whose names, columns and descriptions carry the question's words, after one search."""
    more = search_more(state, u)
    if more is not None:
        return more
    asked = [w for w in u.content_words() if len(w) >= 3 and not w.isdigit()]
    named = {t.card["id"] for t in u.things()}
    found = ranking.places(state.cards, asked, named)
    if not found:
        return ChatResponse(NO_ANSWER)
    lines = []
    for card in found:
        text = card.get("description") or card.get("definition") or ""
        lines.append(render.name(card) + (f": {render.shorten(text, 160)}" if text else ""))
    return ChatResponse("The best places to look:\n" + render.bullets(lines))


def _column_like(state: State, u: Understood) -> ChatResponse:
    word = "_".join(u.free_words()) or "_".join(t.name for t in u.things())
    if not word:
        return ChatResponse(NO_ANSWER)
    args = {"query": word, "type": "column"}
    out = state.ran("search_catalog", args)
    if out is None:
        return ask(call("search_catalog", args))
    columns = [c for c in cards_in(out) if word.replace("_", "") in c["name"].replace("_", "").lower()] or cards_in(out)
    if not columns:
        return ChatResponse(f"No table you can see has a column like {word}.")
    return ChatResponse(f"Columns like {word}:\n" + render.bullets([render.name(c) for c in columns]))


def _tags_of(state: State, u: Understood) -> ChatResponse:
    thing, stop = subject(state, u)
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


def _list_kind(state: State, u: Understood) -> ChatResponse:
    kind = next((_KINDS[singular(w)] for w in u.tokens if singular(w) in _KINDS), None)
    if kind is None:
        return _where_is(state, u)
    args: dict[str, Any] = {"type": kind, "limit": 25}
    found = listed(state, args)
    if found is None:
        return ask(call("list_resources", args))
    label = kind.replace("_", " ")
    if not found:
        return ChatResponse(f"There is no {label} you can see.")
    return ChatResponse(f"The {label}s you can see:\n" + render.bullets([render.name(c) for c in found]))


def _help(state: State, u: Understood) -> ChatResponse:
    if u.mentions:
        return _describe(state, u)
    return ChatResponse(
        "I answer questions about the catalog you can see: what a table or term means, who owns it, its columns "
        "and tags, what feeds it and what uses it, how two tables join, and where to find data. With Run SQL on "
        "and query access, I also count, sum and list rows for you."
    )


_HANDLERS: dict[str, Callable[[State, Understood], ChatResponse]] = {
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
    "aggregate": querying.sql_answer,
    "rows": querying.rows_answer,
    "compare": _compare,
    "tags_of": _tags_of,
    "list_kind": _list_kind,
    "help": _help,
}
