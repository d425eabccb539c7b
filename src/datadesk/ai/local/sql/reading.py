"""What a question was read as, and the cursor the readers walk its chunks with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .chunks import Chunk
from .schema import Schema


class Decline(Exception):
    def __init__(self, *parts: str) -> None:
        super().__init__(", ".join(parts))
        self.parts = list(parts)


@dataclass
class Cond:
    ref: Chunk | None  # the column's name chunk, or None when a hint picks it
    op: str  # = != > < >= <= between range null, "not null"
    values: list[Any]
    hint: str = ""  # location, time, name, boolean, or a column word (age, weight)
    text: str = ""


def flat(conds: list[Cond]) -> list[Cond]:
    """The conditions with each "A or B" opened into A and B."""
    return [part for c in conds for part in (flat(c.values) if c.op == "or" else [c])]


@dataclass
class Reading:
    shape: str = "list"  # count, agg, list
    count_distinct: Chunk | None = None
    aggregates: list[tuple[str, Chunk]] = field(default_factory=list)
    selects: list[Chunk] = field(default_factory=list)
    star: bool = False
    distinct: bool = False
    conds: list[Cond] = field(default_factory=list)
    groups: list[Chunk] = field(default_factory=list)
    order: list[tuple[Chunk | str, str]] = field(default_factory=list)  # (column chunk or hint, direction)
    limit: int | None = None
    subjects: list[Chunk] = field(default_factory=list)  # table mentions
    per_rows: Chunk | None = None  # a related table whose rows are counted per subject row
    rank: str = ""  # order subject rows by that count: asc or desc
    having: tuple[str, int] | None = None  # or keep subject rows whose count passes (op, number)
    group_table: Chunk | None = None  # "for each shop": group by the subject's key to that table
    absent: Chunk | None = None  # "stadiums without any concert": keep subject rows no row of that table refers to
    relations: list[tuple[Chunk, Chunk]] = field(default_factory=list)  # tables a verb relates: "owned by"
    verbs: list[Chunk] = field(default_factory=list)  # the last chunk of each such verb ("used by": "by")


class Cursor:
    """The chunks of a question (filler dropped) and tests on the chunk at a position."""

    def __init__(self, chunks: list[Chunk], schema: Schema, today: date) -> None:
        self.schema = schema
        self.c = [c for c in chunks if c.kind not in ("filler",)]
        self.spoken = chunks  # with the filler, for patterns that depend on what sits between two chunks
        self.today = today
        self.r = Reading()

    def at(self, i: int) -> Chunk | None:
        return self.c[i] if 0 <= i < len(self.c) else None

    def kw(self, i: int, *keys: str) -> bool:
        chunk = self.at(i)
        return chunk is not None and not chunk.used and chunk.kind == "kw" and chunk.key.startswith(keys)

    def col(self, i: int) -> bool:
        chunk = self.at(i)
        return chunk is not None and not chunk.used and chunk.kind == "name" and bool(chunk.columns)

    def value(self, i: int) -> bool:
        chunk = self.at(i)
        return chunk is not None and not chunk.used and chunk.is_value

    def use(self, *indexes: int) -> None:
        for i in indexes:
            self.c[i].used = True

    def adjacent(self, i: int) -> bool:
        """Whether the chunk at i comes right after the one before it, with no filler between."""
        n = next(n for n, c in enumerate(self.spoken) if c is self.c[i])
        return i > 0 and n > 0 and self.spoken[n - 1] is self.c[i - 1]

    def span(self, start: int, end: int) -> str:
        return " ".join(c.text for c in self.c[start:end])
