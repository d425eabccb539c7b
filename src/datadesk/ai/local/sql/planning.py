"""Which table answers the question, and which foreign key joins a second one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .chunks import Chunk
from .reading import Decline, Reading, flat
from .relations import foreign_links, one_path, tables_of
from .schema import Column, Schema


@dataclass
class Plan:
    tables: list[int]  # the subject first; a second table is joined along a foreign key
    join: tuple[Column, Column] | None = None  # (subject's referencing column, referenced column)
    extra: list[tuple[int, tuple[Column, Column]]] = field(default_factory=list)  # a third table through a link


def columns_in(chunk: Chunk, tables: Iterable[int]) -> list[tuple[int, str]]:
    wanted = set(tables)
    return sorted(c for c in chunk.columns if c[0] in wanted)


def _refs(reading: Reading) -> list[Chunk]:
    refs = [c.ref for c in flat(reading.conds) if c.ref is not None]
    refs += [chunk for _, chunk in reading.aggregates] + reading.selects + reading.groups
    refs += [ref for ref, _ in reading.order if isinstance(ref, Chunk)]
    if reading.count_distinct is not None:
        refs.append(reading.count_distinct)
    return refs


def plan_tables(reading: Reading, schema: Schema) -> Plan:
    refs = _refs(reading)
    ranked = list(range(len(schema.cards)))
    subjects = reading.subjects

    def fits(tables: list[int]) -> bool:
        return all(columns_in(ref, tables) for ref in refs) and all(
            any(i in s.tables for i in tables) for s in subjects
        )

    mentioned = [i for i in ranked if any(i in s.tables for s in subjects)]
    if reading.per_rows is not None:
        counted = [i for i in ranked if i in reading.per_rows.tables]
        if not reading.groups and reading.selects and not [i for i in mentioned if i not in counted]:
            for table in counted:
                if fits([table]):
                    reading.groups = list(reading.selects)
                    return Plan([table])
        if reading.groups:
            for table in counted:
                if fits([table]):
                    return Plan([table])
        else:
            for first in mentioned or ranked:
                for table in counted:
                    links = foreign_links(schema, table, first) if table != first else []
                    if len(links) == 1 and fits([first, table]):
                        return Plan([first, table], links[0])
                    path = one_path(schema, {first}, {table}) if reading.relations else None
                    if path is not None and len(path.tables) == 3 and fits([first]):
                        return Plan([first, path.tables[1]], path.joins[0][::-1])  # count the link table's rows
        raise Decline(f"how {reading.per_rows.text} relate to the rest of the question")
    if reading.group_table is None:
        for index in mentioned or ranked:
            if fits([index]) and all(index in s.tables for s in subjects):
                return Plan([index])
    related = _related_plan(reading, schema, fits)
    if related is not None:
        return related
    # Two tables: the subject holds a foreign key to the other, so each subject row meets at most one row.
    firsts = [i for i in ranked if subjects and i in subjects[0].tables] or ranked[:1]
    for first in firsts:
        for other in ranked:
            if reading.group_table is not None and other not in reading.group_table.tables:
                continue
            links = foreign_links(schema, first, other) if other != first else []
            if len(links) == 1 and fits([first, other]):
                return Plan([first, other], links[0])
    # Or the rows listed are of a table holding a foreign key to the subject: "paragraph texts of the document
    # named X". Its rows are the grain, so only when everything listed is a column of that table alone.
    listed = [chunk for _, chunk in reading.aggregates] + reading.selects
    listed += [ref for ref, _ in reading.order if isinstance(ref, Chunk)]
    filters = [c.ref for c in flat(reading.conds) if c.ref is not None]  # and every filter a column of the subject
    if listed and reading.shape != "count" and reading.group_table is None and reading.absent is None:
        for first in firsts:
            for other in ranked:
                links = foreign_links(schema, other, first) if other != first else []
                alone = all(columns_in(c, [other]) for c in listed) and not any(columns_in(c, [other]) for c in filters)
                if len(links) == 1 and fits([other, first]) and alone:
                    return Plan([other, first], links[0])
    names = [s.text for s in subjects] + [r.text for r in refs]
    raise Decline("no single table or foreign-key pair holds " + ", ".join(dict.fromkeys(names)))


def _related_plan(reading: Reading, schema: Schema, fits: Callable[[list[int]], bool]) -> Plan | None:
    """Tables a verb relates, joined along their one path from the subject: "pets owned by students"."""
    if reading.group_table is not None or reading.absent is not None or not reading.subjects:
        return None
    for before, after in reading.relations:
        path = one_path(schema, tables_of(before), after.tables)
        if path is None:
            continue
        tables, joins = list(path.tables), list(path.joins)
        if tables[-1] in reading.subjects[0].tables and tables[0] not in reading.subjects[0].tables:
            tables, joins = tables[::-1], [(b, a) for a, b in joins[::-1]]
        if tables[0] not in reading.subjects[0].tables or not fits(tables):
            continue
        return Plan(tables, joins[0], [(tables[2], joins[1])] if len(tables) == 3 else [])
    return None


def absent_link(schema: Schema, plan: Plan, related: Chunk) -> tuple[Column, Column]:
    """The one foreign key from a related table to the subject, for "subject rows none of those refer to"."""
    subject = plan.tables[0]
    links = [
        link for table in sorted(related.tables) if table != subject for link in foreign_links(schema, table, subject)
    ]
    if not links and plan.join is None:  # through a link table: "students who do not have any pet"
        paths = [p for table in sorted(related.tables) for p in [one_path(schema, {subject}, {table})] if p]
        if len(paths) == 1 and len(paths[0].tables) == 3:
            links = [paths[0].joins[0][::-1]]
    if len(links) != 1 or plan.join is not None:
        raise Decline(f"how {related.text} relate to the rest of the question")
    return links[0]
