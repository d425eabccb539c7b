"""The SELECT for a reading and a plan, built with sqlglot, and a sentence saying what it computes."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Tokenizer

from .chunks import Chunk
from .planning import Plan, absent_link, columns_in
from .reading import Cond, Decline, Reading
from .schema import Column, Schema
from .vocabulary import BOOLEAN, LOCATION_WORDS, name_words, stem_word

_RESERVED = frozenset(
    {w for w in Tokenizer.KEYWORDS if w.isalpha()}
    | {
        w
        for d in ("sqlite", "postgres", "mysql", "duckdb")
        for w in Dialect.get_or_raise(d).tokenizer_class.KEYWORDS
        if w.isalpha()
    }
    | {"ORDER", "GROUP", "USER", "LIMIT", "OFFSET", "SELECT", "WHERE", "FROM", "TO", "AS", "BY", "ON", "IN", "IS"}
)


def _ident(name: str) -> exp.Identifier:
    quoted = not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or name.upper() in _RESERVED
    return exp.to_identifier(name, quoted=quoted)


class Builder:
    def __init__(self, reading: Reading, schema: Schema, plan: Plan, dialect: str | None) -> None:
        self.r, self.s, self.p = reading, schema, plan
        self.words: list[str] = []
        self.nulls = Dialect.get_or_raise(dialect).NULL_ORDERING

    def ordered(self, this: exp.Expr, desc: bool) -> exp.Ordered:
        """ORDER BY that keeps the dialect's own place for NULLs, so no NULLS clause is spelled out."""
        nulls_first = {"nulls_are_small": not desc, "nulls_are_large": desc}.get(self.nulls, False)
        return exp.Ordered(this=this, desc=desc, nulls_first=nulls_first)

    def table_expr(self, index: int) -> exp.Table:
        card = self.s.cards[index]
        parts = str(card.get("qualified_name") or "").split(".")
        schema = parts[-2] if len(parts) >= 3 and parts[-1] == card["name"] else ""
        db = _ident(schema) if schema and schema.lower() not in ("main", "public") else None
        return exp.Table(this=_ident(str(card["name"])), db=db)

    def resolve(self, chunk: Chunk, prefer: int | None = None) -> Column:
        options = columns_in(chunk, self.p.tables)
        if len(options) > 1:
            tables = {t for t, _ in options}
            if len(tables) > 1:
                first = self.p.tables[0] if prefer is None else prefer
                options = [o for o in options if o[0] == first]
            if len({n.lower() for _, n in options}) > 1:
                raise Decline(f"{chunk.text} (more than one column)")
        if not options:
            raise Decline(chunk.text)
        table, name = options[0]
        return self.s.column(table, name)

    def ref(self, column: Column) -> exp.Column:
        qualifier = _ident(str(self.s.cards[column.table]["name"])) if self.p.join else None
        return exp.Column(this=_ident(column.name), table=qualifier)

    def hinted(self, hint: str) -> Column:
        """The one column a hint points at in the planned tables."""
        found: list[Column] = []
        for table in self.p.tables:
            for column in self.s.columns[table]:
                if (
                    (hint == "location" and set(column.words) & LOCATION_WORDS and not column.numeric)
                    or (hint == "time" and (column.temporal or column.yearly))
                    or (hint == "name" and _is_label(column, self.s.cards[table]))
                    or (hint in ("age", "weight", "height") and hint in column.words and column.numeric)
                ):
                    found.append(column)
        if hint == "name" and len(found) > 1:
            found = [c for c in found if c.words == ["name"]] or found
        if len(found) != 1:
            raise Decline(f"which column means {hint}")
        return found[0]

    def condition(self, cond: Cond) -> exp.Expr:
        if cond.op == "or":
            return exp.Paren(this=exp.or_(*(self.condition(part) for part in cond.values)))
        column = self.resolve(cond.ref) if cond.ref is not None else self.hinted(cond.hint)
        ref = self.ref(column)
        values = cond.values
        if cond.op in ("null", "not null"):
            self.words.append(f"{column.name} is {'empty' if cond.op == 'null' else 'set'}")
            empty = exp.Is(this=ref, expression=exp.Null())
            return empty if cond.op == "null" else exp.Not(this=empty)
        if cond.hint == "average":
            if not column.numeric:
                raise Decline(f"{cond.text} (not a number column)")
            inner = exp.select(exp.Avg(this=exp.Column(this=_ident(column.name)))).from_(self.table_expr(column.table))
            self.words.append(f"{column.name} {_say(cond.op)} its average")
            return _compare(ref, cond.op, exp.Subquery(this=inner))
        if cond.op == "range":
            if not column.temporal:
                raise Decline(f"{cond.text} (not a date column)")
            low, high = values
            self.words.append(f"{column.name} from {low.isoformat()} up to {high.isoformat()}")
            return exp.and_(ref.copy() >= _literal(low.isoformat()), ref.copy() < _literal(high.isoformat()))
        if cond.op.startswith("year"):
            op = cond.op[4:] or "="
            if column.temporal:
                exprs: list[Any] = []
                for year in values:
                    low = _literal(f"{year}-01-01")
                    high = _literal(f"{year + 1}-01-01")
                    if op == "=":
                        exprs.append(exp.and_(ref.copy() >= low, ref.copy() < high))
                    else:
                        exprs.append(_compare(ref.copy(), op, low if op in ("<", ">=") else high))
                self.words.append(f"{column.name} {_say(op)} {' or '.join(str(v) for v in values)}")
                return exp.or_(*exprs) if len(exprs) > 1 else exprs[0]
            if not column.yearly:
                raise Decline(cond.text)
        if cond.hint == "time" and column.temporal and cond.op in ("<", ">", ">="):
            values = [v.isoformat() if isinstance(v, date) else v for v in values]
        op = (cond.op[4:] or "=") if cond.op.startswith("year") else cond.op
        if op == "between":
            if not column.numeric:
                raise Decline(f"{cond.text} (not a number column)")
            self.words.append(f"{column.name} between {values[0]} and {values[1]}")
            return exp.Between(this=ref, low=_literal(values[0]), high=_literal(values[1]))
        if op in ("<", ">", "<=", ">=") and not (column.numeric or column.temporal or column.yearly):
            raise Decline(f"{cond.text} (not a number column)")
        typed = [_typed(v, column) for v in values]
        self.words.append(f"{column.name} {_say(op)} {' or '.join(_quote(v) for v in typed)}")
        exprs = [_compare(ref.copy(), op, _literal(v)) for v in typed]
        if op == "!=" and len(exprs) > 1:
            return exp.and_(*exprs)
        return exp.or_(*exprs) if len(exprs) > 1 else exprs[0]

    def order_column(self, ref: Chunk | str) -> Column:
        if isinstance(ref, Chunk):
            return self.resolve(ref)
        if ref == "alpha":
            if len(self.r.selects) != 1:
                raise Decline("the order of which column")
            return self.resolve(self.r.selects[0])
        return self.hinted(ref)

    def build(self) -> exp.Select:
        r = self.r
        subject = self.s.cards[self.p.tables[0]]
        label = _table_words(subject)
        query = exp.Select()
        projections: list[exp.Expr] = []
        groups = [self.resolve(g) for g in r.groups]
        summary = ""
        per_table = r.per_rows is not None or bool(r.rank)
        if per_table and (r.shape != "list" or r.order or r.star or r.distinct):
            raise Decline("a count of related rows together with another count, aggregate or order")
        if r.group_table is not None and r.shape == "list":
            raise Decline(f"for each {r.group_table.text} without a count or aggregate")
        if r.group_table is not None:
            wanted = [self.resolve(chunk, prefer=self.p.tables[-1]) for chunk in r.selects]
            source, target = self.p.join or (None, None)
            if source is None or target is None:
                raise Decline(f"for each {r.group_table.text}")
            if not wanted:
                self.p = Plan(self.p.tables[:1])
                groups, shown = [source], [source]
            else:
                groups = [target, *[c for c in wanted if c.name != target.name or c.table != target.table]]
                shown = wanted
            r.selects = []
        if r.shape == "count":
            if r.count_distinct is not None:
                column = self.resolve(r.count_distinct)
                projections.append(exp.Count(this=exp.Distinct(expressions=[self.ref(column)])))
                summary = f"counts distinct {column.name} of {label}"
            else:
                projections.append(exp.Count(this=exp.Star()))
                summary = f"counts rows of {label}"
        elif r.shape == "agg":
            parts = []
            for function, chunk in r.aggregates:
                column = self.resolve(chunk)
                if not column.numeric and function in ("avg", "sum"):
                    raise Decline(f"{function} of {chunk.text} (not a number column)")
                if not (column.numeric or column.temporal) and function in ("min", "max"):
                    raise Decline(f"{function} of {chunk.text} (not a number column)")
                node = {"avg": exp.Avg, "sum": exp.Sum, "max": exp.Max, "min": exp.Min}[function]
                projections.append(node(this=self.ref(column)))
                parts.append(f"{_FUNCTION_WORDS[function]} {column.name}")
            summary = f"computes {' and '.join(parts)} of {label}"
        selects = [self.resolve(chunk) for chunk in r.selects]
        if len({(c.table, c.name) for c in selects}) < len(selects):
            raise Decline("the same column named twice")  # two words were read as one column: a misreading
        if r.shape in ("count", "agg"):
            if r.group_table is not None:
                pass
            elif selects and not groups:
                if r.shape != "count":
                    raise Decline(", ".join(chunk.text for chunk in r.selects))
                groups = selects
            elif selects and {(c.table, c.name) for c in selects} != {(c.table, c.name) for c in groups}:
                raise Decline(", ".join(chunk.text for chunk in r.selects))
            if r.distinct and not (groups and selects):
                raise Decline("different")
            r.distinct = False  # "different citizenships and the number of singers": the groups are distinct already
            if r.group_table is not None:
                projections = [self.ref(c) for c in shown] + projections
            else:
                projections = [self.ref(c) for c in groups] + projections
        elif per_table:
            if self.p.join is None and not groups:
                groups = selects
            selects = selects or groups or [self.label_column()]
            projections = [self.ref(c) for c in selects]
            if groups:
                if {(c.table, c.name) for c in selects} != {(c.table, c.name) for c in groups}:
                    raise Decline(", ".join(chunk.text for chunk in r.selects))
            else:
                if self.p.join is None:
                    raise Decline("how the counted rows relate")
                key = self.p.join[1]
                groups = [key, *[c for c in selects if (c.table, c.name) != (key.table, key.name)]]
            counted = r.per_rows.text if r.per_rows is not None else "rows"
            summary = f"lists {', '.join(c.name for c in selects)} of {label} by their number of {counted}"
        else:
            if r.star:
                if selects or self.p.join:
                    raise Decline("all information together with columns")
                projections = [exp.Star()]
                summary = f"lists every column of {label}"
            else:
                if not selects:
                    selects = [self.label_column()]
                projections = [self.ref(c) for c in selects]
                summary = f"lists {', '.join(c.name for c in selects)} of {label}"
            if groups:
                raise Decline("group without a count or aggregate")
        query = query.select(*projections, copy=False)
        if r.distinct:
            query = query.distinct(copy=False)
            summary = summary.replace("lists", "lists the distinct", 1)
        query = query.from_(self.table_expr(self.p.tables[0]), copy=False)
        if self.p.join is not None:
            source, target = self.p.join
            query = query.join(
                self.table_expr(self.p.tables[1]),
                on=exp.EQ(this=self.ref(source), expression=self.ref(target)),
                copy=False,
            )
            summary += f" joined to {_table_words(self.s.cards[target.table])}"
        for table, (left, right) in self.p.extra:
            query = query.join(
                self.table_expr(table), on=exp.EQ(this=self.ref(left), expression=self.ref(right)), copy=False
            )
            summary += f" and to {_table_words(self.s.cards[table])}"
        conditions: list[Any] = [self.condition(c) for c in r.conds]
        equal = [
            (self.resolve(c.ref) if c.ref is not None else self.hinted(c.hint)).name for c in r.conds if c.op == "="
        ]
        if len(set(equal)) < len(equal):
            raise Decline("one column equal to two things at once")  # "both X and Y" is about two rows, not one
        if r.absent is not None:
            source, target = absent_link(self.s, self.p, r.absent)
            fk = exp.Column(this=_ident(source.name))
            present = exp.Not(this=exp.Is(this=fk.copy(), expression=exp.Null()))
            inner = exp.select(fk).from_(self.table_expr(source.table)).where(present)
            conditions.append(exp.Not(this=self.ref(target).isin(query=inner)))
            self.words.append(f"no row of {_table_words(self.s.cards[source.table])} refers to it")
        if conditions:
            query = query.where(exp.and_(*conditions), copy=False)
            summary += " where " + " and ".join(self.words)
        if groups:
            query = query.group_by(*[self.ref(c) for c in groups], copy=False)
            if not per_table:
                summary += " for each " + ", ".join(c.name for c in groups)
        if r.having is not None:
            op, number = r.having
            query = query.having(_compare(exp.Count(this=exp.Star()), op, _literal(number)), copy=False)
            summary += f", keeping those with {_say(op).replace('is ', '')} {number}"
        elif r.rank:
            query = query.order_by(self.ordered(exp.Count(this=exp.Star()), r.rank == "desc"), copy=False)
            query = query.limit(r.limit or 1, copy=False)
            summary += f", the one with the {'most' if r.rank == 'desc' else 'fewest'}"
            self.summary = summary
            return query
        orders = []
        for ref, direction in r.order:
            column = self.order_column(ref)
            if direction in ("old", "young"):
                if "age" in column.words:
                    direction = "desc" if direction == "old" else "asc"
                elif column.temporal or column.yearly:
                    direction = "asc" if direction == "old" else "desc"
                else:
                    raise Decline(f"from {direction}est")
            if direction == "alpha":
                direction = "asc"
            orders.append(self.ordered(self.ref(column), direction == "desc"))
            summary += f", ordered by {column.name}{' descending' if direction == 'desc' else ''}"
        if orders:
            if r.shape != "list":
                raise Decline("ordering of a count or aggregate")
            query = query.order_by(*orders, copy=False)
        if r.limit is not None:
            if not orders:
                raise Decline("top without an order")
            query = query.limit(r.limit, copy=False)
            summary += f", first {r.limit} only" if r.limit != 1 else ", the first only"
        self.summary = summary
        return query

    def label_column(self) -> Column:
        """What names a row of the subject table: its name column."""
        index = self.p.tables[0]
        found = [c for c in self.s.columns[index] if _is_label(c, self.s.cards[index])]
        if len(found) > 1:
            found = [c for c in found if c.words == ["name"]] or found
        if len(found) != 1:
            raise Decline("which column names a row")
        return found[0]


_FUNCTION_WORDS = {"avg": "the average of", "sum": "the total of", "max": "the largest", "min": "the smallest"}


def _is_label(column: Column, card: dict[str, Any]) -> bool:
    table = [stem_word(w) for w in name_words(str(card["name"]))]
    stems = [stem_word(w) for w in column.words]
    return not column.numeric and (stems in (["name"], [*table, "name"], table, ["title"], [*table, "title"]))


def _table_words(card: dict[str, Any]) -> str:
    return str(card["name"])


def _typed(value: Any, column: Column) -> Any:
    if isinstance(value, bool):
        if not BOOLEAN.search(column.type):
            raise Decline(f"{column.name} is not a yes/no column")
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not (column.numeric or column.yearly):
        return str(value)
    if isinstance(value, str) and column.numeric:
        raise Decline(f"'{value}' as {column.name}")
    return value


def _literal(value: Any) -> exp.Expr:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _compare(ref: exp.Expr, op: str, value: exp.Expr) -> exp.Expr:
    node = {"=": exp.EQ, "!=": exp.NEQ, ">": exp.GT, "<": exp.LT, ">=": exp.GTE, "<=": exp.LTE}[op]
    return node(this=ref, expression=value)


def _say(op: str) -> str:
    return {"=": "is", "!=": "is not", ">": "above", "<": "below", ">=": "at least", "<=": "at most"}[op]


def _quote(value: Any) -> str:
    return str(value) if isinstance(value, int | float) else f"'{value}'"
