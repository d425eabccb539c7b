"""Verbs that relate two tables: "pets owned by students", "templates used by documents".

A word no rule explains, standing between the names of two tables that share exactly one foreign-key path
(one table referring to the other, or a link table whose other columns are only keys referring to both),
says the rows are related along that path: the word is read as the join and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from .chunks import Chunk
from .reading import Cursor
from .schema import Column, Schema

# Prepositions that may follow such a verb: "owned by", "enrolled in", "departing from".
_PREPOSITIONS = frozenset("by in from at on into with".split())
_VERB_ENDINGS = ("ed", "ing", "en")  # participles: "pets owned", "flights departing", "languages spoken"
_RELATIVE = frozenset(("open", "with"))  # who, which, that have: a relative clause may precede the verb


@dataclass(frozen=True)
class Path:
    """How two tables join: directly, or through a link table."""

    tables: tuple[int, ...]  # from the first table to the last
    joins: tuple[tuple[Column, Column], ...]  # (column of one table, column it equals in the table before or after)


def foreign_links(schema: Schema, source: int, target: int) -> list[tuple[Column, Column]]:
    """Foreign keys from one table to another: (referencing column, referenced column)."""
    found = []
    for column in schema.columns[source]:
        if column.references is None or schema.table_index(column.references[0]) != target:
            continue
        referenced = next((c for c in schema.columns[target] if c.name.lower() == column.references[1].lower()), None)
        if referenced is not None:
            found.append((column, referenced))
    return found


def link_tables(schema: Schema) -> list[int]:
    """Tables whose every column is a key: they only record that rows of two other tables belong together."""
    found = []
    for index, columns in enumerate(schema.columns):
        refs = [c for c in columns if c.references is not None]
        if len(refs) >= 2 and all(c.references is not None or c.primary_key for c in columns):
            found.append(index)
    return found


def paths(schema: Schema, first: int, last: int) -> list[Path]:
    """Every foreign-key path from one table to another: direct either way, or through one link table."""
    if first == last:
        return []
    found = [Path((first, last), ((src, dst),)) for src, dst in foreign_links(schema, first, last)]
    found += [Path((first, last), ((dst, src),)) for src, dst in foreign_links(schema, last, first)]
    for link in link_tables(schema):
        if link in (first, last):
            continue
        to_first, to_last = foreign_links(schema, link, first), foreign_links(schema, link, last)
        for a in to_first:
            for b in to_last:
                if a[0] is not b[0]:
                    found.append(Path((first, link, last), ((a[1], a[0]), (b[0], b[1]))))
    unique: dict[tuple[frozenset[tuple[int, str]], ...], Path] = {}
    for path in found:  # a key declared in both directions is one path
        unique.setdefault(tuple(frozenset({(a.table, a.name), (b.table, b.name)}) for a, b in path.joins), path)
    return list(unique.values())


def one_path(schema: Schema, firsts: set[int], lasts: set[int]) -> Path | None:
    """The one path between the tables two names may mean, or None when there is none or more than one."""
    found = [p for a in firsts for b in lasts for p in paths(schema, a, b)]
    return found[0] if len(found) == 1 else None


def read_relations(cursor: Cursor) -> None:
    """Consume each verb between two related table names, and its preposition."""
    c = cursor.c
    for i, chunk in enumerate(c):
        if chunk.used or chunk.kind != "word" or not chunk.key.isalpha() or len(chunk.key) < 3:
            continue
        negated = i > 0 and c[i - 1].kind == "kw" and c[i - 1].key == "not" and not c[i - 1].used
        before = _table_before(c, i - 1 if negated else i)
        end = i + 1
        if end < len(c) and _preposition(c[end]):
            end += 1
        after = _table_after(c, end)
        counted = after is not None and c[end] is not after  # "owns the most dogs", "used by 2 documents"
        if before is None or after is None or tables_of(before) & after.tables:
            continue
        k = i - 1 - negated
        relative = k >= 0 and c[k].kind == "kw" and c[k].key in _RELATIVE
        if not (end > i + 1 or relative or counted or chunk.key.endswith(_VERB_ENDINGS)):
            continue  # "the math courses": a word before a table may be any modifier, not a verb
        if one_path(cursor.schema, tables_of(before), after.tables) is None:
            continue
        if negated:
            # "templates not used by any document": keep rows no row of that table refers to, when it ends the question
            last = next(n for n, x in enumerate(c) if x is after)
            if counted or cursor.r.absent is not None or any(x.kind != "punct" for x in c[last + 1 :]):
                continue
            cursor.r.absent = after
            cursor.use(*range(i - 1, last + 1))
            continue
        cursor.use(*range(i, end))
        cursor.r.relations.append((before, after))
        cursor.r.verbs.append(c[end - 1])


def tables_of(chunk: Chunk) -> set[int]:
    """The tables a name means: its own, or those of the columns it names."""
    return chunk.tables or {table for table, _ in chunk.columns}


def _preposition(chunk: Chunk) -> bool:
    return not chunk.used and chunk.key in _PREPOSITIONS and chunk.kind in ("kw", "word")


def _table_before(c: list[Chunk], i: int) -> Chunk | None:
    j = i - 1
    while j >= 0 and c[j].kind == "kw" and c[j].key in _RELATIVE:
        j -= 1
    if j >= 0 and c[j].kind == "name" and (c[j].tables or c[j].columns):
        return c[j]  # a column stands for its table: "which type code is used by most documents"
    return None


def _table_after(c: list[Chunk], j: int) -> Chunk | None:
    """The table named next, past a count or comparison: "by the most documents", "by more than 2 documents"."""
    while j < len(c) and (
        c[j].kind == "num" or (c[j].kind == "kw" and c[j].key.startswith(("most", "fewest", "op:", "count")))
    ):
        j += 1
    if j < len(c) and c[j].kind == "name" and c[j].tables and not c[j].used:
        return c[j]
    return None
