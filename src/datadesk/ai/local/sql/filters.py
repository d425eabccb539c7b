"""Reading filters: comparisons on named columns, yes/no columns, listed values, times and places."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from .chunks import Chunk
from .reading import Cond, Cursor, Decline
from .schema import Schema, listed_values
from .vocabulary import BOOLEAN, TIME_VERBS


class FilterReader(Cursor):
    """Reads the conditions of a question into its Reading."""

    def values_from(self, i: int) -> tuple[list[Any], int]:
        """Values joined by "or" from position i: ([v1, v2], next position)."""
        values = [self.c[i].value]
        j = i + 1
        while self.kw(j, "or") and self.value(j + 1) and self.c[j + 1].kind == self.c[i].kind:
            values.append(self.c[j + 1].value)
            j += 2
        return values, j

    def conditions(self) -> None:
        for i, chunk in enumerate(self.c):
            types = [self.schema.column(t, n).type for t, n in chunk.columns]
            if chunk.kind == "name" and not chunk.tables and types and all(BOOLEAN.search(t) for t in types):
                negate = self.kw(i - 1, "not") and not self.c[i - 1].used
                self.r.conds.append(Cond(chunk, "=", [not negate], hint="boolean", text=chunk.text))
                self.use(*([i - 1, i] if negate else [i]))
            elif chunk.kind == "word" and not chunk.used:
                self.enumerated(i)
        i = 0
        while i < len(self.c):
            end = self.condition_at(i)
            if end and self.kw(end, "or"):  # "opened after 2013 or before 2008": either comparison
                read = len(self.r.conds)
                after = self.condition_at(end + 1)
                if after and len(self.r.conds) == read + 1:
                    second, first = self.r.conds.pop(), self.r.conds.pop()
                    self.r.conds.append(Cond(None, "or", [first, second], text=self.span(i, after)))
                    self.use(end)
                    end = after
            i = end or i + 1
        for i, chunk in enumerate(self.c):
            if chunk.kind == "cap" and not chunk.used:
                self.named_row(i)
        for i in range(len(self.c)):
            self.happened(i)

    def happened(self, i: int) -> None:
        """A past participle of a verb whose time a column records: "returned" for return_date is "return_date
        is set"; negated ("haven't been returned", "not yet returned") it is "return_date is empty"."""
        chunk = self.c[i]
        if chunk.used or chunk.kind not in ("word", "name") or not chunk.key.endswith("ed") or len(chunk.key) < 5:
            return
        if chunk.kind == "name" and (chunk.tables or not self.beside_table(i)):
            return  # a column's own name ("canceled" of canceled_at) only as a predicate of the rows counted
        found = done_columns(self.schema, chunk.key)
        if not found:
            return
        used = [i]
        j = i - 1
        if self.word(j, "yet"):
            used.append(j)
            j -= 1
        negate = self.negation(j)
        if negate:
            used.append(j)
            j -= 1
        if self.kw(j, "with") and self.c[j].text.lower() in ("have", "has", "had"):
            used.append(j)  # "rentals that have not been returned": the auxiliary, not a possession
        if negate and self.word(i + 1, "yet"):
            used.append(i + 1)
        if len(used) > 1 and self.word(used[1], "yet") and not negate:
            return  # "yet" without a negation asks something else
        ref = Chunk("name", chunk.key, chunk.text, columns=found)
        self.r.conds.append(Cond(ref, "null" if negate else "not null", [], text=chunk.text))
        self.use(*used)

    def negation(self, i: int) -> bool:
        """ "not", "never" or a verb with "n't" at i."""
        return self.kw(i, "not") or (self.word(i) and (self.c[i].key.endswith("n't") or self.c[i].key == "never"))

    def word(self, i: int, *keys: str) -> bool:
        chunk = self.at(i)
        return chunk is not None and not chunk.used and chunk.kind == "word" and (not keys or chunk.key in keys)

    def beside_table(self, i: int) -> bool:
        """Whether a table's name comes right before or after position i, past negations and auxiliaries."""
        j = i - 1
        while self.at(j) is not None and (self.negation(j) or self.kw(j, "with") or self.word(j, "yet")):
            j -= 1
        return any(c is not None and c.kind == "name" and bool(c.tables) for c in (self.at(j), self.at(i + 1)))

    def named_row(self, i: int) -> None:
        """A capitalised name the question ends on, or owns something with, names a row: "population of Angola",
        "Kyle's id", "which continent is Anguilla in". Before a noun ("French singers") it may be anything else."""
        chunk = self.c[i]
        value = re.sub(r"'s$", "", chunk.text)
        after = [c for c in self.c[i + 1 :] if c.kind != "punct"]
        trailing = len(after) == 1 and after[0].kind == "kw" and after[0].key in ("in", "from", "with")
        if (value == chunk.text and after and not trailing) or (self.col(i - 1) and self.adjacent(i)):
            return  # after a column's name ("directed by Ben Jones") the value is that column's, not the name's
        if self.kw(i - 1, "and", "or"):
            return  # after a column's name ("directed by Ben Jones") the value is that column's, not the name's
        self.r.conds.append(Cond(None, "=", [value], hint="name", text=chunk.text))
        self.use(i, *([self.c.index(after[0])] if trailing else []))

    def enumerated(self, i: int) -> None:
        """A word a column's description lists as one of its values: "open" for status "open, paid or void"."""
        word = self.c[i].key
        found: set[tuple[int, str]] = set()
        spelled = word
        for table, columns in enumerate(self.schema.columns):
            for column in columns:
                values = listed_values(column.description)
                for value in values:
                    if value.lower() == word and not column.numeric:
                        found.add((table, column.name))
                        spelled = value
        if not found:
            return
        negate = self.kw(i - 1, "not") and not self.c[i - 1].used
        ref = Chunk("name", word, self.c[i].text, columns=found)
        self.r.conds.append(Cond(ref, "!=" if negate else "=", [spelled], text=self.c[i].text))
        self.use(*([i - 1, i] if negate else [i]))

    def condition_at(self, i: int) -> int:
        """Read a condition starting at i; the position after it, or 0."""
        start = i
        denied = self.kw(i, "not") and self.kw(i + 1, "with") and self.col(i + 2)  # "do not have the type X"
        if denied:
            i += 1
        intro = self.kw(i, "with", "in", "from")
        if intro:
            i += 1
        if self.col(i):
            ref = i
            j = i + 1
            negate = denied
            if self.kw(j, "not") and not denied:
                negate, j = True, j + 1
            op = "="
            if self.kw(j, "op:"):
                op, j = self.c[j].key.split(":")[1], j + 1
            elif self.kw(j, "between") and self.value(j + 1) and self.kw(j + 2, "and") and self.value(j + 3):
                cond = Cond(self.c[ref], "between", [self.c[j + 1].value, self.c[j + 3].value])
                self.use(*range(start, j + 4))
                self.r.conds.append(cond)
                return j + 4
            if op in (">", "<", ">=", "<=") and self.kw(j, "agg:avg"):
                return self.above_average(start, ref, op, negate, j)
            if not self.value(j):
                return 0
            named = self.c[j].kind == "cap" and j == ref + 1 and self.adjacent(j)  # "directed by Ben Jones"
            if op == "=" and not negate and not intro and self.c[j].kind != "lit" and not named:
                return 0  # "population of Aruba" names a row, it does not filter on population
            values, end = self.values_from(j)
            if op != "=" and (len(values) > 1 or not all(isinstance(v, int | float) for v in values)):
                raise Decline(" ".join(c.text for c in self.c[start:end]))
            if negate:
                op = {"=": "!=", ">": "<=", "<": ">=", ">=": "<", "<=": ">"}[op]
            self.r.conds.append(Cond(self.c[ref], op, values, text=self.span(start, end)))
            self.use(*range(start, end))
            return end
        j = i
        negate = False
        if self.kw(j, "not"):
            negate, j = True, j + 1
        if self.kw(j, "op:") and self.kw(j + 1, "agg:avg") and self.col(j + 2) and len(self.c[j].key.split(":")) == 2:
            # "above the average age"
            return self.above_average(start, j + 2, self.c[j].key.split(":")[1], negate, j + 1)
        if self.kw(j, "op:") and (self.value(j + 1) or (self.col(j + 1) and self.value(j + 2))):
            key = self.c[j].key.split(":")
            op = key[1]
            if len(key) == 3:
                if not isinstance(self.c[j + 1].value, int | float):
                    return 0
                op = {"=": "!=", ">": "<=", "<": ">=", ">=": "<", "<=": ">"}[op] if negate else op
                self.r.conds.append(Cond(None, op, [self.c[j + 1].value], hint=key[2], text=self.span(start, j + 2)))
                self.use(*range(start, j + 2))
                return j + 2
            if self.col(j + 1) and self.value(j + 2) and len(key) == 2 and isinstance(self.c[j + 2].value, int | float):
                if negate:
                    op = {"=": "!=", ">": "<=", "<": ">=", ">=": "<", "<=": ">"}[op]
                self.r.conds.append(Cond(self.c[j + 1], op, [self.c[j + 2].value], text=self.span(start, j + 3)))
                self.use(*range(start, j + 3))
                return j + 3
            if self.col(j + 2) and isinstance(self.c[j + 1].value, int | float):
                if negate:
                    op = {"=": "!=", ">": "<=", "<": ">=", ">=": "<", "<=": ">"}[op]
                self.r.conds.append(Cond(self.c[j + 2], op, [self.c[j + 1].value], text=self.span(start, j + 3)))
                self.use(*range(start, j + 3))
                return j + 3
            return 0
        with_number = self.kw(i - 1 if intro else -1, "with") and self.value(i) and self.col(i + 1) and not negate
        if with_number and isinstance(self.c[i].value, int | float):  # "with 4 cylinders"
            self.r.conds.append(Cond(self.c[i + 1], "=", [self.c[i].value], text=self.span(start, i + 2)))
            self.use(*range(start, i + 2))
            return i + 2
        if self.kw(start, "named") and self.value(start + 1) and self.c[start + 1].kind in ("lit", "cap"):
            self.r.conds.append(Cond(None, "=", [self.c[start + 1].value], hint="name"))
            self.use(start, start + 1)
            return start + 2
        return self.time_at(start) or self.place_at(start)

    def above_average(self, start: int, ref: int, op: str, negate: bool, avg: int) -> int:
        """A column compared with its own average over the table: "weight below the average (weight)"."""
        end = avg + 1
        if self.col(end) and end != ref:
            if self.c[end].columns != self.c[ref].columns:
                return 0  # "age above the average weight" compares two columns: not this rule
            end += 1
        if negate:
            op = {">": "<=", "<": ">=", ">=": "<", "<=": ">"}[op]
        self.r.conds.append(Cond(self.c[ref], op, [], hint="average", text=self.span(start, end)))
        self.use(*range(start, end), ref)
        return end

    def time_at(self, i: int) -> int:
        start = i
        ref: Chunk | None = None
        if self.col(i):
            ref, i = self.c[i], i + 1
        elif self.at(i) is not None and self.c[i].kind == "word" and self.c[i].key in TIME_VERBS:
            i += 1
        chunk = self.at(i)
        if chunk is None or chunk.used:
            return 0
        if chunk.kind == "kw" and chunk.key.startswith("rel:"):
            low, high = relative_period(chunk.key[4:], self.today)
            self.r.conds.append(Cond(ref, "range", [low, high], hint="time", text=self.span(start, i + 1)))
            self.use(*range(start, i + 1))
            return i + 1
        if not (chunk.kind == "kw" and chunk.key in ("in", "before", "after", "since")):
            return 0
        word = chunk.key
        nxt = self.at(i + 1)
        if nxt is None or nxt.used:
            return 0
        if nxt.kind == "kw" and nxt.key.startswith("rel:") and word == "in":
            low, high = relative_period(nxt.key[4:], self.today)
            self.r.conds.append(Cond(ref, "range", [low, high], hint="time", text=self.span(start, i + 2)))
            self.use(*range(start, i + 2))
            return i + 2
        if nxt.kind == "date" and word != "in":
            op = {"before": "<", "after": ">", "since": ">="}[word]
            self.r.conds.append(Cond(ref, op, [nxt.value], hint="time", text=self.span(start, i + 2)))
            self.use(*range(start, i + 2))
            return i + 2
        if nxt.kind == "num" and isinstance(nxt.value, int) and 1800 <= nxt.value <= 2100:
            if word == "in":
                years, end = self.values_from(i + 1)
                if not all(isinstance(y, int) and 1800 <= y <= 2100 for y in years):
                    return 0
                self.r.conds.append(Cond(ref, "year", years, hint="time", text=self.span(start, end)))
                self.use(*range(start, end))
                return end
            op = {"before": "<", "after": ">", "since": ">="}[word]
            self.r.conds.append(Cond(ref, "year" + op, [nxt.value], hint="time", text=self.span(start, i + 2)))
            self.use(*range(start, i + 2))
            return i + 2
        return 0

    def place_at(self, i: int) -> int:
        start = i
        negate = False
        if self.kw(i, "not"):
            negate, i = True, i + 1
        if not self.kw(i, "from", "in") or not self.value(i + 1) or self.c[i + 1].kind not in ("lit", "cap"):
            return 0
        values, end = self.values_from(i + 1)
        op = "!=" if negate else "="
        self.r.conds.append(Cond(None, op, values, hint="location", text=self.span(start, end)))
        self.use(*range(start, end))
        return end


_DONE_SUFFIXES = ("date", "at", "on", "time")


def done_columns(schema: Schema, participle: str) -> set[tuple[int, str]]:
    """Time columns named for the verb of a past participle: return_date for "returned", closed_at for "closed"."""
    base = participle[:-2]
    verbs = {participle, base, participle[:-1]}  # returned -> return, closed -> close
    if len(base) > 2 and base[-1] == base[-2]:
        verbs.add(base[:-1])  # shipped -> ship
    if base.endswith("i"):
        verbs.add(base[:-1] + "y")  # applied -> apply
    return {
        (table, column.name)
        for table, columns in enumerate(schema.columns)
        for column in columns
        if column.temporal and len(column.words) == 2 and column.words[1] in _DONE_SUFFIXES and column.words[0] in verbs
    }


def relative_period(word: str, today: date) -> tuple[date, date]:
    """[start, end) of a relative period."""
    if word == "today":
        return today, today + timedelta(days=1)
    if word == "yesterday":
        return today - timedelta(days=1), today
    if word in ("this_week", "last_week"):
        start = today - timedelta(days=today.weekday())
        return (start, start + timedelta(days=7)) if word == "this_week" else (start - timedelta(days=7), start)
    if word in ("this_month", "last_month"):
        start = today.replace(day=1)
        if word == "this_month":
            return start, _add_months(start, 1)
        return _add_months(start, -1), start
    if word in ("this_quarter", "last_quarter"):
        start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
        if word == "this_quarter":
            return start, _add_months(start, 3)
        return _add_months(start, -3), start
    start = today.replace(month=1, day=1)
    if word == "this_year":
        return start, start.replace(year=start.year + 1)
    return start.replace(year=start.year - 1), start


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
