"""Lineage answers: where a table or a column comes from, and what depends on it, hop by hop.

Both sides come from one get_lineage call (depth up to 3). A hop the person may not see arrives as a
hidden node: it is counted ("and 2 assets you cannot see"), never named. Upstream, the columns that
decide which rows the tables on the way hold are named apart from the value sources.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from datadesk.ai.local import render
from datadesk.ai.local.conversation import NO_ANSWER, TABLES, State, ask, call, cards_in, subject
from datadesk.ai.local.linking import Thing
from datadesk.ai.local.understand import CUE_WORDS, Understood
from datadesk.ai.providers.base import ChatResponse

DEPTH = 3
MAX_PER_HOP = 25
TOOL = "get_lineage"


def answer(state: State, u: Understood, *, upstream: bool) -> ChatResponse | None:
    """The lineage answer, a get_lineage call to make first, or None when that tool is not offered."""
    if TOOL not in state.tools:
        return None
    thing, stop = subject(state, u, *TABLES, "dashboard", "column")
    if thing is None:
        return stop or ChatResponse(NO_ANSWER)
    thing = column_in_named_table(u) or thing
    args = arguments(thing)
    out = state.ran(TOOL, args)
    if out is None:
        return ask(call(TOOL, args))
    item = next((c for c in cards_in(out) if "upstream" in c), None)
    if item is None:
        return ChatResponse(NO_ANSWER)
    return ChatResponse(_upstream(item) if upstream else _downstream(item))


def arguments(thing: Thing) -> dict[str, Any]:
    if thing.column is not None:
        return {"resource_id": thing.card["id"], "column": thing.column["name"], "depth": DEPTH}
    return {"resource_id": thing.card["id"], "depth": DEPTH}


def column_in_named_table(u: Understood) -> Thing | None:
    """A column named next to its own table: "amount_usd in paid_orders", "the total column of top"."""
    tables = {
        str(t.card.get("qualified_name")) for m in u.mentions for t in m.things[:1] if t.type in TABLES and t.qualified
    }
    if not tables:
        return None
    for mention in u.mentions:
        if all(w in CUE_WORDS for w in u.tokens[mention.start : mention.end]):
            continue
        for thing in mention.things:
            if thing.type == "column" and _table_of(thing) in tables:
                return thing
    return None


def _table_of(thing: Thing) -> str:
    qualified = str(thing.card.get("qualified_name") or "")
    return qualified if thing.column is not None else qualified.rsplit(".", 1)[0]


def _upstream(item: dict[str, Any]) -> str:
    column = item.get("type") == "column"
    nodes = item.get("upstream") or []
    filters = _filters(item)
    if not nodes and not filters:
        return f"The catalog records nothing that feeds {render.name(item)}."
    parts = []
    if nodes:
        verb = "is computed from, hop by hop" if column else "is built from"
        parts.append(f"{render.name(item)} {verb}:\n" + render.bullets(_hops(item, nodes, "up")))
    else:
        parts.append(f"The catalog records no source that {render.name(item)} is computed from.")
    if filters:
        parts.append("Filters deciding which rows are kept:\n" + render.bullets(filters))
    return "\n\n".join(parts)


def _downstream(item: dict[str, Any]) -> str:
    nodes = item.get("downstream") or []
    if not nodes:
        return f"The catalog records nothing that uses {render.name(item)}."
    title = f"These depend on {render.name(item)} and may break if it changes:"
    return title + "\n" + render.bullets(_hops(item, nodes, "down"))


def _hops(item: dict[str, Any], nodes: list[dict[str, Any]], way: str) -> list[str]:
    """One line per hop: the nodes it reaches, the hidden ones only counted."""
    filtering = {e["to"] for e in item.get("edges") or [] if e.get("kind") == "filter" and way == "down" and "to" in e}
    by_depth: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for node in nodes:
        by_depth[int(node.get("depth") or 1)].append(node)
    lines = []
    for depth in sorted(by_depth):
        shown = [n for n in by_depth[depth] if not n.get("hidden") and n.get("name")]
        hidden = len(by_depth[depth]) - len(shown)
        names = [render.name(n) + (" (the rows it keeps)" if n["id"] in filtering else "") for n in shown]
        more = len(names) - MAX_PER_HOP
        names = names[:MAX_PER_HOP] + ([f"{more} more"] if more > 0 else [])
        if hidden:
            unseen = f"{hidden} asset{'s' if hidden > 1 else ''} you cannot see"
            names.append(f"and {unseen}" if names else unseen)
        lines.append(f"{depth} hop{'s' if depth > 1 else ''} {way}: " + _join(names))
    return lines


def _filters(item: dict[str, Any]) -> list[str]:
    """'Rows of paid_orders filtered by `orders.status`': per table on the way, the columns deciding its rows."""
    lines = []
    for entry in item.get("row_filters") or []:
        table = entry.get("table") or {}
        if not table.get("name"):
            continue
        columns = [_short(c) for c in entry.get("filtered_by") or [] if c.get("name")]
        hidden = int(entry.get("hidden_filters") or 0)
        if hidden:
            unseen = f"{hidden} column{'s' if hidden > 1 else ''} you cannot see"
            columns.append(f"and {unseen}" if columns else unseen)
        if columns:
            lines.append(f"{render.name(table)}: rows filtered by " + _join(columns))
    return lines


def _short(column: dict[str, Any]) -> str:
    """A column as `table.column`, with its citation."""
    parts = str(column.get("qualified_name") or "").split(".")
    table = parts[-2] if len(parts) >= 2 else ""
    return f"`{table + '.' if table else ''}{column['name']}` {render.cite(column)}"


def _join(names: list[str]) -> str:
    if names and names[-1].startswith("and ") and len(names) > 1:
        return ", ".join(names[:-1]) + " " + names[-1]
    return ", ".join(names)
