"""Where a question says which source it means: "in pagila", "the jaffle shop customers", "world_1 city".

A source is named by the database part of its tables' qualified names or by its dbt project. Such words
narrow what the question is about; they are not a table, a column, a filter or a value, so they are taken
out before linking, classifying and building SQL, and the things of the named source are preferred.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from datadesk.ai.local.text import STOPWORDS, singular, words

DBT_KINDS = ("model", "source", "seed", "snapshot")
# Words that only say "a source" around its name: "in the pagila database", "jaffle shop's".
_AROUND_BEFORE = frozenset({"in", "from", "of", "at", "for", "within", "inside"})
_AROUND_AFTER = frozenset({"database", "databases", "db", "warehouse", "project", "dataset", "shop", "s"})


@dataclass(frozen=True)
class Source:
    start: int
    end: int  # token positions of the whole phrase, "in the" and "database" included, end exclusive
    key: str  # the source as named in qualified names: "pagila_1f2e", "jaffle_shop", "world_1"


def keys_of(card: dict[str, Any]) -> set[str]:
    """The names of the source a card lives in: its database and its dbt project."""
    found: set[str] = set()
    if card.get("type") == "database":
        found.add(str(card.get("name", "")).lower())
    parts = str(card.get("qualified_name") or "").lower().split(".")
    if len(parts) >= 3 and parts[0] in DBT_KINDS:
        found.add(parts[1])
    elif len(parts) >= 3:
        found.add(parts[0])
    unique_id = str((card.get("dbt") or {}).get("unique_id") or "").lower().split(".")
    if len(unique_id) >= 3 and unique_id[0] in DBT_KINDS:
        found.add(unique_id[1])
    return {k for k in found if k}


def _phrases(cards: list[dict[str, Any]]) -> dict[str, list[list[str]]]:
    """Each source's ways of being named: all its words, or its first word alone when no name in the catalog
    uses that word (so "jaffle" names jaffle_shop, but "dog" is the Dogs table, not dog_kennels)."""
    named = {singular(w) for c in cards for w in words(str(c.get("name", "")))}
    named |= {singular(w) for c in cards for col in c.get("columns") or [] for w in words(str(col.get("name", "")))}
    named |= {singular(w) for c in cards for n in c.get("column_names") or [] for w in words(str(n))}
    found: dict[str, list[list[str]]] = {}
    for card in cards:
        for key in keys_of(card):
            if key in found:
                continue
            parts = words(key)
            ways = [parts]
            if len(parts) > 1 and len(parts[0]) >= 4 and singular(parts[0]) not in named:
                ways.append(parts[:1])
            found[key] = ways
    return found


def find(tokens: list[str], cards: list[dict[str, Any]]) -> list[Source]:
    """The sources a question names, longest phrase first at each place."""
    phrases = _phrases(cards)
    found: list[Source] = []
    i = 0
    while i < len(tokens):
        best: tuple[int, str] | None = None
        for key, ways in phrases.items():
            for way in ways:
                if tokens[i : i + len(way)] == way and (best is None or len(way) > best[0]):
                    best = (len(way), key)
        if best is None:
            i += 1
            continue
        start, end = i, i + best[0]
        while end < len(tokens) and tokens[end] in _AROUND_AFTER:
            end += 1
        if end == len(tokens) or tokens[end] in STOPWORDS:  # "in the jaffle shop": the phrase is the place
            if start > 0 and tokens[start - 1] == "the":
                start -= 1
            if start > 0 and tokens[start - 1] in _AROUND_BEFORE:
                start -= 1
        found.append(Source(start, end, best[1]))
        i = end
    return found


def without(question: str, tokens: list[str], sources: list[Source]) -> str:
    """The question as typed, without the words that name a source (for the SQL builder, which reads it raw)."""
    text = question
    for source in sources:
        pattern = r"[\W_]*".join(re.escape(w) for w in tokens[source.start : source.end])
        text = re.sub(rf"(?i)(?<![a-z0-9]){pattern}(?![a-z0-9])", " ", text, count=1)
    return " ".join(text.split())
