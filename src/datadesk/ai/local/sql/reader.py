"""Reading a question: counts, aggregates, order, groups, counts of related rows, and what is listed."""

from __future__ import annotations

from .chunks import Chunk
from .filters import FilterReader
from .reading import Decline, Reading
from .relations import read_relations
from .vocabulary import HARMLESS, TIME_VERBS


class Reader(FilterReader):
    """Consumes every chunk into the Reading, or declines naming the ones left over."""

    def read(self) -> Reading:
        self.star()
        read_relations(self)
        self.absence()
        self.conditions()
        self.related()
        self.ordering()
        self.counting()
        self.aggregating()
        self.superlatives()
        self.grouping()
        self.selecting()
        self.leftovers()
        return self.r

    def star(self) -> None:
        for i, chunk in enumerate(self.c):
            if chunk.kind == "kw" and chunk.key == "star":
                self.r.star = True
                self.use(i)

    def absence(self) -> None:
        """A related table named last after "without", "with no" or "do not have": "singers without any song"."""
        for i, chunk in enumerate(self.c):
            if chunk.used or chunk.kind != "kw":
                continue
            if chunk.key == "without":
                start, j = i, i + 1
            elif chunk.key == "not" and self.kw(i + 1, "with"):
                start, j = i, i + 2
            else:
                continue
            target = self.at(j)
            if target is None or target.kind != "name" or not target.tables or target.columns:
                continue
            if not all(c.kind == "punct" for c in self.c[j + 1 :]) or self.r.absent is not None:
                raise Decline(self.span(start, j + 1))
            self.r.absent = target
            self.use(*range(start, j + 1))

    # -- order, top

    def ordering(self) -> None:
        for i, chunk in enumerate(self.c):
            if chunk.used or chunk.kind != "kw":
                continue
            if chunk.key == "top" and self.value(i + 1) and isinstance(self.c[i + 1].value, int):
                self.r.limit = self.c[i + 1].value
                self.use(i, i + 1)
            elif chunk.key.startswith("order"):
                direction = chunk.key.split(":")[1] if ":" in chunk.key else ""
                k = i + 1
                if self.kw(k, "dir:") and self.col(k + 1):  # "ordered by ascending age"
                    direction = self.c[k].key[4:]
                    self.use(k)
                    k += 1
                if not self.col(k):
                    raise Decline(chunk.text)
                if self.kw(k + 1, "dir:"):
                    direction = self.c[k + 1].key[4:]
                    self.use(k + 1)
                self.r.order.append((self.c[k], direction or "asc"))
                self.use(i, k)
        for i, chunk in enumerate(self.c):
            if chunk.used or chunk.kind != "kw":
                continue
            if chunk.key == "by" and self.col(i + 1) and self.kw(i - 1, "dir:"):  # "sorted descending by age"
                self.r.order.append((self.c[i + 1], self.c[i - 1].key[4:]))
                self.use(i - 1, i, i + 1)
            elif chunk.key == "by" and self.col(i + 1) and (self.r.limit is not None or self.kw(i + 2, "dir:")):
                direction = "desc" if self.r.limit is not None else ""
                if self.kw(i + 2, "dir:"):
                    direction = self.c[i + 2].key[4:]
                    self.use(i + 2)
                self.r.order.append((self.c[i + 1], direction))
                self.use(i, i + 1)
        for i, chunk in enumerate(self.c):
            if not chunk.used and chunk.kind == "kw" and chunk.key.startswith("dir:"):
                if not self.r.order and chunk.key in ("dir:alpha", "dir:ralpha", "dir:asc", "dir:desc"):
                    # "in descending order" alone orders by the one column listed
                    self.r.order.append(("alpha", "desc" if chunk.key in ("dir:ralpha", "dir:desc") else "asc"))
                elif self.r.order and isinstance(self.r.order[-1][0], Chunk) and not self.r.order[-1][1]:
                    self.r.order[-1] = (self.r.order[-1][0], chunk.key[4:])
                else:
                    raise Decline(chunk.text)
                self.use(i)
        self.r.order = [(ref, direction or "asc") for ref, direction in self.r.order]

    # -- count, aggregates

    def counting(self) -> None:
        for i, chunk in enumerate(self.c):
            if chunk.used or chunk.kind != "kw" or chunk.key != "count":
                continue
            self.use(i)
            j = i + 1
            while self.kw(j, "count"):
                self.use(j)
                j += 1
            while self.at(j) is not None and self.c[j].used:
                j += 1
            if self.r.shape == "count":
                raise Decline("a second count")
            self.r.shape = "count"
            if self.kw(j, "distinct") and self.col(j + 1):
                self.r.count_distinct = self.c[j + 1]
                self.use(j, j + 1)
                if self.kw(j + 2, "and") and self.col(j + 3):
                    raise Decline(f"{self.c[j + 1].text} and {self.c[j + 3].text}")  # two distinct counts
            elif self.at(j) is not None and self.c[j].kind == "name" and self.c[j].tables and not self.c[j].used:
                self.r.subjects.append(self.c[j])
                self.use(j)
            elif j > i + 1 and self.c[j - 1].used and any(c.hint == "boolean" for c in self.r.conds):
                pass  # "how many paying customers": the yes/no column's table is the subject
            else:
                raise Decline(f"{chunk.text} {self.c[j].text if self.at(j) else ''}".strip())

    def aggregating(self) -> None:
        i = 0
        while i < len(self.c):
            if not self.kw(i, "agg:") or self.kw(i - 1, "with"):
                i += 1
                continue
            functions, j = [self.c[i].key[4:]], i + 1
            while self.kw(j, "and") or self.kw(j, "agg:"):
                if self.kw(j, "agg:"):
                    functions.append(self.c[j].key[4:])
                j += 1
            if not self.col(j):
                i += 1
                continue
            for function in functions:
                same = [f for f, c in self.r.aggregates if f == function and c.columns == self.c[j].columns]
                if not same:
                    self.r.aggregates.append((function, self.c[j]))
            self.use(*range(i, j + 1))
            i = j + 1
        if self.r.aggregates:
            if self.r.shape == "count":
                raise Decline("a count and an aggregate together")
            self.r.shape = "agg"

    def superlatives(self) -> None:
        for i, chunk in enumerate(self.c):
            if chunk.used or chunk.kind != "kw":
                continue
            if chunk.key.startswith("agg:") and self.col(i + 1) and self.r.shape == "list":
                direction = "desc" if chunk.key == "agg:max" else "asc" if chunk.key == "agg:min" else ""
                if not direction or self.r.order:
                    raise Decline(chunk.text)
                self.r.order.append((self.c[i + 1], direction))
                self.r.limit = self.r.limit or 1
                self.use(i, i + 1)
                if self.kw(i - 1, "with"):
                    self.use(i - 1)
            elif chunk.key in ("most", "fewest") and self.col(i + 1) and self.r.shape == "list" and not self.r.order:
                self.r.order.append((self.c[i + 1], "desc" if chunk.key == "most" else "asc"))  # "the most points"
                self.r.limit = self.r.limit or 1
                self.use(i, i + 1)
                if self.kw(i - 1, "with"):
                    self.use(i - 1)
            elif chunk.key.startswith("sup:") and self.r.shape == "list" and not self.r.order:
                _, word, function = chunk.key.split(":")
                self.r.order.append((word, "desc" if function == "max" else "asc"))
                self.r.limit = self.r.limit or 1
                self.use(i)

    def related(self) -> None:
        """Counts of a related table's rows: "with the most flights", "that have at least 10 flights"."""
        for i, chunk in enumerate(self.c):
            if chunk.used or chunk.kind != "kw":
                continue
            if chunk.key in ("most", "fewest"):
                j = i + 1
                while self.kw(j, "count"):
                    j += 1
                target = self.at(j)
                if target is None or target.used or target.kind != "name" or not target.tables:
                    continue
                if self.r.per_rows is not None:
                    raise Decline(chunk.text)
                self.r.per_rows, self.r.rank = target, "desc" if chunk.key == "most" else "asc"
                self.use(*range(i, j + 1))
                if self.kw(i - 1, "with"):
                    self.use(i - 1)
            elif chunk.key in ("common", "rare") and self.col(i + 1):
                self.r.groups.append(self.c[i + 1])
                self.r.rank = "desc" if chunk.key == "common" else "asc"
                self.use(i, i + 1)
            elif (chunk.key == "with" and self.kw(i + 1, "op:") and self.value(i + 2)) or (
                self.after_verb(i - 1) and self.kw(i, "op:") and self.value(i + 1)  # "used by more than 2 documents"
            ):
                k = i + 1 if chunk.key == "with" else i
                op, number = self.c[k].key.split(":"), self.c[k + 1].value
                j = k + 2
                while self.kw(j, "count"):
                    j += 1
                target = self.at(j)
                if len(op) != 2 or not isinstance(number, int) or target is None or target.used:
                    continue
                if target.kind != "name" or not target.tables or target.columns:
                    continue
                if self.r.per_rows is not None:
                    raise Decline(chunk.text)
                self.r.per_rows, self.r.having = target, (op[1], number)
                self.use(*range(i, j + 1))

    def after_verb(self, i: int) -> bool:
        """Whether a relating verb ends at i: "templates used by" more than one document."""
        return i >= 0 and any(self.c[i] is verb for verb in self.r.verbs)

    def grouping(self) -> None:
        for i, chunk in enumerate(self.c):
            if chunk.used or chunk.kind != "kw":
                continue
            if chunk.key == "group" or (chunk.key == "by" and self.r.shape in ("count", "agg")):
                target = self.at(i + 1)
                if target is not None and not target.used and target.kind == "name" and target.tables:
                    if self.r.shape == "list" and chunk.key == "group":
                        self.r.subjects.append(target)  # "the names of every singer"
                        self.use(i, i + 1)
                        continue
                    if not target.columns and self.r.group_table is None:
                        self.r.group_table = target
                        self.use(i, i + 1)
                        continue
                if not self.col(i + 1):
                    raise Decline(f"{chunk.text} {self.c[i + 1].text if self.at(i + 1) else ''}".strip())
                self.r.groups.append(self.c[i + 1])
                self.use(i, i + 1)

    def selecting(self) -> None:
        for i, chunk in enumerate(self.c):
            if chunk.used:
                continue
            if chunk.kind == "kw" and chunk.key == "distinct" and self.col(i + 1):
                self.r.distinct = True
                self.use(i)
            elif chunk.kind == "name":
                listed = self.kw(i - 1, "and") and self.r.selects and self.c[i - 2] is self.r.selects[-1]
                if chunk.tables and not (chunk.columns and (self.r.subjects or listed)):
                    self.r.subjects.append(chunk)
                else:
                    if self.r.selects and self.c[i - 1] is self.r.selects[-1] and self.adjacent(i):
                        # two column names in a row ("official language"): one modifies the other
                        raise Decline(f"{self.c[i - 1].text} {chunk.text}")
                    self.r.selects.append(chunk)
                chunk.used = True

    def leftovers(self) -> None:
        left = []
        for n, chunk in enumerate(self.c):
            if chunk.used or chunk.kind == "punct":
                continue
            if chunk.kind == "kw" and chunk.key in ("and", "open", "fill"):
                continue
            if chunk.kind == "kw" and chunk.key == "fill:order" and self.r.order:
                continue
            if chunk.kind == "kw" and chunk.key == "with" and all(c.kind == "punct" for c in self.c[n + 1 :]):
                continue  # "how many nationalities do conductors have"
            nxt = self.at(n + 1)
            if chunk.kind == "kw" and chunk.key in ("in", "from") and nxt is not None and nxt in self.r.subjects:
                continue  # "the average rank of winners in all matches": the table the rows are from
            if chunk.kind == "word" and chunk.key in HARMLESS:
                continue
            located = self.kw(n + 1, "in", "from") and any(self.at(n + 2) is s for s in self.r.subjects)
            if chunk.kind == "word" and chunk.key.endswith(("ed", "en")) and located:
                continue  # "bonus given in all evaluations": the participle only says where the rows are
            grouped = nxt is not None and nxt.used and nxt.kind == "kw" and nxt.key == "group"
            if chunk.kind == "word" and chunk.key in TIME_VERBS and grouped:
                continue  # "matches played in each year": the verb only says what the time is of
            left.append(chunk.text)
        if left:
            raise Decline(*left)
