"""Turn a data question into one SELECT from catalog metadata alone: names, types, keys and descriptions.

The local provider sees no data values, so every literal in the query comes from the question's own text
and every table and column from the cards it was given. The question is read into chunks (keywords,
names of tables and columns, values); small patterns consume them into a count, aggregates, filters,
groups, an order and the listed columns. Any word left that carries meaning and no pattern explained is
named in `unsupported` and no SQL is built: a refusal is better than an answer to another question.
The query is built with sqlglot's expression builders, so literals stay literals in every dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .building import Builder
from .chunks import chunk_question
from .planning import plan_tables
from .reader import Reader
from .reading import Decline
from .schema import read_schema

__all__ = ["Draft", "build"]


@dataclass
class Draft:
    """The query for a question, or why there is none."""

    sql: str | None  # the query to run, or None when it declines
    table_ids: list[str]  # the cards it used / would use
    explanation: str  # one sentence: what the query computes, in plain words
    unsupported: list[str] = field(default_factory=list)  # parts it could not express (non-empty => sql is None)


def build(
    question: str, tables: list[dict[str, Any]], dialect: str | None = None, *, today: date | None = None
) -> Draft:
    """One SELECT answering the question from the ranked table/view cards, or a refusal naming what it can't say."""
    cards = [c for c in tables if c.get("type", "table") in ("table", "view") and c.get("columns")]
    if not cards:
        return Draft(None, [], "No table in the catalog fits the question.", ["which table"])
    schema = read_schema(cards)
    chunks = chunk_question(question, schema)
    try:
        reading = Reader(chunks, schema, today or date.today()).read()
        plan = plan_tables(reading, schema)
        builder = Builder(reading, schema, plan, dialect)
        query = builder.build()
    except Decline as declined:
        used = [str(c["id"]) for c in cards[:1]]
        parts = declined.parts or ["the question"]
        return Draft(None, used, f"Cannot express {', '.join(parts)} from the catalog's metadata.", parts)
    ids = [str(schema.cards[i]["id"]) for i in builder.p.tables]
    return Draft(query.sql(dialect=dialect or None), ids, builder.summary[:1].upper() + builder.summary[1:] + ".")
