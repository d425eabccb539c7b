"""How the local assistant writes: display names people read, whole sentences, lists, a citation per claim."""

from __future__ import annotations

import re
from typing import Any

_HEADING_LINE = re.compile(r"^\s*#{1,6}\s")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def cite(card: dict[str, Any]) -> str:
    return f"[[{card['id']}]]"


def where(card: dict[str, Any]) -> str:
    """Which source a table-like card lives in, from its qualified name."""
    parts = str(card.get("qualified_name") or "").split(".")
    if parts and parts[0] in ("model", "source", "seed", "snapshot") and len(parts) >= 3:
        kind = {"model": "dbt model", "source": "dbt source", "seed": "dbt seed", "snapshot": "dbt snapshot"}[parts[0]]
        return f"{kind} in {parts[1]}"
    place = ".".join(parts[:-1])
    return f"{card.get('type', 'table')} in {place}" if place else str(card.get("type", "table"))


def name(card: dict[str, Any], *, link: bool = True) -> str:
    """The card's display name: "**invoices** (table in acme.finance)", "the **MRR** glossary term"."""
    marker = f" {cite(card)}" if link else ""
    kind = card.get("type")
    if kind == "glossary_term":
        return f"the **{card['name']}** glossary term{marker}"
    if kind == "document":
        return f"the document **{card['name']}**{marker}"
    if kind == "dashboard":
        return f"the dashboard **{card['name']}**{marker}"
    if kind == "column":
        table = str(card.get("qualified_name") or "").rsplit(".", 1)[0]
        return f"**{card['name']}** (column of {table}){marker}"
    return f"**{card['name']}** ({where(card)}){marker}"


def column_of(card: dict[str, Any], column: dict[str, Any]) -> str:
    return f"**{column['name']}**, a column of {name(card)}"


def shorten(text: str, limit: int = 400) -> str:
    """Whole sentences up to about `limit` characters, markdown headings dropped; never a word cut in two."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip() and not _HEADING_LINE.match(line)]
    text = " ".join(lines)
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        if kept and len(kept) + len(sentence) + 1 > limit:
            break
        kept = f"{kept} {sentence}".strip()
    if len(kept) > limit or not kept:
        kept = text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return kept


def column_line(column: dict[str, Any]) -> str:
    line = f"- `{column['name']}`"
    if column.get("type"):
        line += f" ({column['type']})"
    if column.get("description"):
        line += f": {shorten(column['description'], 160)}"
    if column.get("tags"):
        line += f" [tags: {', '.join(column['tags'])}]"
    if column.get("primary_key"):
        line += " (primary key)"
    if column.get("references"):
        line += f" (references {column['references']})"
    return line


def bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)
