"""Turn a data question into one SELECT from catalog metadata alone: names, types, keys and descriptions.

The local provider sees no data values, so every literal in the query comes from the question's own text
and every table and column from the cards it was given. The question is read into chunks (keywords,
names of tables and columns, values); small patterns consume them into a count, aggregates, filters,
groups, an order and the listed columns. Any word left that carries meaning and no pattern explained is
named in `unsupported` and no SQL is built: a refusal is better than an answer to another question.
The query is built with sqlglot's expression builders, so literals stay literals in every dialect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Tokenizer


@dataclass
class Draft:
    """The query for a question, or why there is none."""

    sql: str | None  # the query to run, or None when it declines
    table_ids: list[str]  # the cards it used / would use
    explanation: str  # one sentence: what the query computes, in plain words
    unsupported: list[str] = field(default_factory=list)  # parts it could not express (non-empty => sql is None)


# ---------------------------------------------------------------------------------------------------- words

_FILLER = frozenset(
    "the a an all are is was were be been being do does did we you i have there that those these their its it "
    "me please of for to any every in total listed exist exists existing recorded stored currently overall "
    "database our my us either currently respectively together also both known kept registered data table tables "
    "record records row rows entries entry across out still".split()
)
# Words that may be left over without changing what is asked.
_HARMLESS = frozenset(
    "what which show list give find return display tell get who how much many is there here "
    "information info details".split()
)

_KEYWORDS: dict[str, str] = {
    "how many rows are in": "count",
    "how many rows in": "count",
    "how many records are in": "count",
    "how many records in": "count",
    "number of rows in": "count",
    "how many": "count",
    "number of": "count",
    "count of": "count",
    "count": "count",
    "total number of": "count",
    "total count of": "count",
    "average": "agg:avg",
    "mean": "agg:avg",
    "avg": "agg:avg",
    "total": "agg:sum",
    "sum of": "agg:sum",
    "sum": "agg:sum",
    "combined": "agg:sum",
    "maximum": "agg:max",
    "max": "agg:max",
    "highest": "agg:max",
    "largest": "agg:max",
    "biggest": "agg:max",
    "greatest": "agg:max",
    "maximal": "agg:max",
    "minimum": "agg:min",
    "min": "agg:min",
    "lowest": "agg:min",
    "smallest": "agg:min",
    "minimal": "agg:min",
    "oldest": "sup:age:max",
    "youngest": "sup:age:min",
    "heaviest": "sup:weight:max",
    "lightest": "sup:weight:min",
    "tallest": "sup:height:max",
    "different": "distinct",
    "distinct": "distinct",
    "unique": "distinct",
    "more than": "op:>",
    "greater than": "op:>",
    "larger than": "op:>",
    "bigger than": "op:>",
    "higher than": "op:>",
    "over": "op:>",
    "above": "op:>",
    "exceeding": "op:>",
    "older than": "op:>:age",
    "younger than": "op:<:age",
    "heavier than": "op:>:weight",
    "lighter than": "op:<:weight",
    "taller than": "op:>:height",
    "less than": "op:<",
    "fewer than": "op:<",
    "smaller than": "op:<",
    "lower than": "op:<",
    "below": "op:<",
    "under": "op:<",
    "at least": "op:>=",
    "no less than": "op:>=",
    "not less than": "op:>=",
    "at most": "op:<=",
    "no more than": "op:<=",
    "not more than": "op:<=",
    "between": "between",
    "equal to": "op:=",
    "equals": "op:=",
    "exactly": "op:=",
    "not": "not",
    "other than": "not",
    "with": "with",
    "whose": "with",
    "where": "with",
    "has": "with",
    "have": "with",
    "having": "with",
    "that have": "with",
    "that has": "with",
    "who have": "with",
    "who has": "with",
    "which have": "with",
    "which has": "with",
    "from": "from",
    "in": "in",
    "during": "in",
    "named": "named",
    "called": "named",
    "before": "before",
    "prior to": "before",
    "earlier than": "before",
    "after": "after",
    "later than": "after",
    "since": "since",
    "last month": "rel:last_month",
    "this month": "rel:this_month",
    "last year": "rel:last_year",
    "this year": "rel:this_year",
    "last quarter": "rel:last_quarter",
    "this quarter": "rel:this_quarter",
    "last week": "rel:last_week",
    "this week": "rel:this_week",
    "today": "rel:today",
    "yesterday": "rel:yesterday",
    "for each": "group",
    "for every": "group",
    "in each": "group",
    "from each": "group",
    "of each": "group",
    "per": "group",
    "grouped by": "group",
    "by": "by",
    "ordered by": "order",
    "order by": "order",
    "sorted by": "order",
    "sort by": "order",
    "ranked by": "order",
    "in order of": "order",
    "descending": "dir:desc",
    "in descending order": "dir:desc",
    "in descending order of": "order:desc",
    "in descending order by": "order:desc",
    "decreasing": "dir:desc",
    "in decreasing order": "dir:desc",
    "desc": "dir:desc",
    "from highest to lowest": "dir:desc",
    "from largest to smallest": "dir:desc",
    "from most to least": "dir:desc",
    "ascending": "dir:asc",
    "in ascending order": "dir:asc",
    "in ascending order of": "order:asc",
    "in ascending order by": "order:asc",
    "increasing": "dir:asc",
    "in increasing order": "dir:asc",
    "asc": "dir:asc",
    "from lowest to highest": "dir:asc",
    "from smallest to largest": "dir:asc",
    "from least to most": "dir:asc",
    "from oldest to youngest": "dir:old",
    "from youngest to oldest": "dir:young",
    "in alphabetical order": "dir:alpha",
    "alphabetically": "dir:alpha",
    "in alphabetical order of": "order:alpha",
    "top": "top",
    "most": "most",
    "the most": "most",
    "most number of": "most",
    "the largest number of": "most",
    "the highest number of": "most",
    "fewest": "fewest",
    "least": "fewest",
    "least number of": "fewest",
    "the smallest number of": "fewest",
    "the lowest number of": "fewest",
    "most common": "common",
    "most frequent": "common",
    "most popular": "common",
    "least common": "rare",
    "the most common": "common",
    "the most frequent": "common",
    "the most popular": "common",
    "the least common": "rare",
    "least frequent": "rare",
    "and": "and",
    "or": "or",
    "what": "open",
    "which": "open",
    "show": "open",
    "list": "open",
    "give": "open",
    "find": "open",
    "return": "open",
    "display": "open",
    "tell": "open",
    "get": "open",
    "who": "open",
    "do we have": "fill",
    "we have": "fill",
    "do you have": "fill",
    "are there": "fill",
    "is there": "fill",
    "there are": "fill",
    "there is": "fill",
    "in total": "fill",
    "in the database": "fill",
    "sort": "fill:order",
    "sorted": "fill:order",
    "ordered": "fill:order",
    "amount of": "fill:amount",
    "all information": "star",
    "all the information": "star",
    "all information about": "star",
    "all the information about": "star",
    "all details": "star",
    "all the details": "star",
    "all details about": "star",
    "all the details about": "star",
}
# Past participles that only say "happened at that time": "cars produced in 1980".
_TIME_VERBS = frozenset(
    "made produced built released born founded created established published opened launched issued held "
    "happened occurred placed started joined hired signed registered".split()
)
_LOCATION_WORDS = frozenset(
    "country nationality citizenship continent region city state location hometown town place origin nation "
    "county province".split()
)
_NUMERIC = re.compile(r"int|num|dec|real|float|double|money|serial|number|bigint|smallint", re.I)
_TEMPORAL = re.compile(r"date|time", re.I)
_BOOLEAN = re.compile(r"bool|bit\b", re.I)
_VIEW_PREFIXES = ("v", "vw", "view", "dim", "fct", "fact", "stg", "mart", "rpt")
_GENERIC_SUFFIXES = ("data", "list", "info", "details", "records", "table")
_IRREGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman", "data": "data", "ids": "id"}


def _stem(word: str) -> str:
    """A crude singular: enough to match "singers" to singer and "countries" to country."""
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zes", "uses")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def _name_words(name: str) -> list[str]:
    """Words of an identifier: snake_case, camelCase and digits apart."""
    spaced = re.sub(r"[^A-Za-z0-9]+", " ", name)
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", spaced)]


# ---------------------------------------------------------------------------------------------------- schema


@dataclass
class _Column:
    table: int  # index in _Schema.cards
    name: str
    type: str
    words: list[str]
    primary_key: bool
    references: tuple[str, str] | None  # (table name, column name)
    description: str = ""

    @property
    def numeric(self) -> bool:
        return bool(_NUMERIC.search(self.type))

    @property
    def temporal(self) -> bool:
        return bool(_TEMPORAL.search(self.type))

    @property
    def yearly(self) -> bool:
        return "year" in self.words and not self.temporal


@dataclass
class _Schema:
    cards: list[dict[str, Any]]
    columns: list[list[_Column]] = field(default_factory=list)
    phrases: dict[tuple[str, ...], tuple[set[int], set[tuple[int, str]]]] = field(default_factory=dict)

    def column(self, table: int, name: str) -> _Column:
        return next(c for c in self.columns[table] if c.name == name)

    def table_index(self, name: str) -> int | None:
        for index, card in enumerate(self.cards):
            if str(card["name"]).lower() == name.lower():
                return index
        return None


def _short(text: str) -> list[str] | None:
    """A description short enough to be another name for the thing ("student id"), as words."""
    words = re.findall(r"[A-Za-z0-9]+", text)
    if not words or len(words) > 4 or re.search(r"[.,;:()]", text.strip()):
        return None
    return [w.lower() for w in words]


def _listed_values(description: str) -> list[str]:
    """Values a description enumerates: "open, paid or void", "one of 'a', 'b'"; none for prose."""
    quoted = re.findall(r"'([^']{1,40})'|\"([^\"]{1,40})\"", description)
    if quoted:
        return [a or b for a, b in quoted]
    text = re.sub(r"^[^:]{0,40}:\s*", "", description.strip()).rstrip(".")
    parts = [p.strip() for p in re.split(r",|\bor\b|\band\b|\|", text)]
    if len(parts) < 2 or not all(re.fullmatch(r"[A-Za-z0-9_-]{1,30}", p) for p in parts):
        return []
    return parts


def _schema(cards: list[dict[str, Any]]) -> _Schema:
    schema = _Schema(cards)

    def add(words: Iterable[str], table: int | None, column: tuple[int, str] | None) -> None:
        key = tuple(_stem(w) for w in words if w)
        if not key:
            return
        tables, columns = schema.phrases.setdefault(key, (set(), set()))
        if table is not None:
            tables.add(table)
        if column is not None:
            columns.add(column)

    for index, card in enumerate(cards):
        words = _name_words(str(card["name"]))
        if len(words) > 1 and words[0] in _VIEW_PREFIXES:
            words = words[1:]
        add(words, index, None)
        if len(words) > 1 and words[-1] in _GENERIC_SUFFIXES:
            add(words[:-1], index, None)  # "cars" for cars_data
        described = _short(str(card.get("description") or ""))
        if described:
            add(described, index, None)
        table_stem = " ".join(_stem(w) for w in words)
        found: list[_Column] = []
        for raw in card.get("columns") or []:
            name = str(raw["name"])
            cwords = _name_words(name)
            reference = None
            if raw.get("references"):
                parts = str(raw["references"]).split(".")
                if len(parts) >= 2:
                    reference = (parts[-2], parts[-1])
            column = _Column(
                index,
                name,
                str(raw.get("type") or ""),
                cwords,
                bool(raw.get("primary_key")),
                reference,
                str(raw.get("description") or ""),
            )
            found.append(column)
            add(cwords, None, (index, name))
            described = _short(str(raw.get("description") or ""))
            if described:
                add(described, None, (index, name))
            stems = [_stem(w) for w in cwords]
            # "singer_name" in singer is also just "name"; "created_at" is also "created".
            prefix = table_stem.split()
            if len(stems) > len(prefix) and stems[: len(prefix)] == prefix:
                add(cwords[len(prefix) :], None, (index, name))
            if column.temporal and len(cwords) > 1 and cwords[-1] in ("at", "on", "date", "time"):
                add(cwords[:-1], None, (index, name))
            if _BOOLEAN.search(column.type) and len(cwords) > 1 and cwords[0] in ("is", "has", "was"):
                add(cwords[1:], None, (index, name))
        schema.columns.append(found)
    return schema


# ---------------------------------------------------------------------------------------------------- chunks


@dataclass
class _Chunk:
    kind: str  # kw, name, num, lit, cap, date, word, filler, punct
    key: str  # keyword meaning, or the lower-cased text
    text: str
    value: Any = None
    tables: set[int] = field(default_factory=set)
    columns: set[tuple[int, str]] = field(default_factory=set)
    used: bool = False

    @property
    def is_value(self) -> bool:
        return self.kind in ("num", "lit", "cap", "date")


_TOKEN = re.compile(
    r"\"(?P<dq>[^\"]+)\"|(?<![A-Za-z0-9])'(?P<sq>[^']+)'(?![A-Za-z0-9])|(?P<date>\d{4}-\d{2}-\d{2})"
    r"|(?P<num>-?\d+(?:\.\d+)?)(?![A-Za-z])|(?P<word>[A-Za-z][A-Za-z0-9]*(?:'[A-Za-z]+)?)|(?P<punct>[,;=<>!]+|\S)"
)


@dataclass
class _Token:
    text: str
    kind: str

    @property
    def low(self) -> str:
        return self.text.lower()


def _tokens(question: str) -> list[_Token]:
    found = []
    for match in _TOKEN.finditer(question):
        kind = match.lastgroup or "punct"
        text = match.group(kind)
        if kind in ("dq", "sq"):
            kind = "lit"
        found.append(_Token(text, kind))
    return found


_KW_PHRASES = {tuple(k.split()): v for k, v in _KEYWORDS.items()}
_MAX_KW = max(len(k) for k in _KW_PHRASES)


def _match(tokens: list[_Token], start: int, phrase: Sequence[str], *, stem: bool) -> int:
    """How many tokens from start spell the phrase ("the"/"of" may sit between its words), or 0."""
    i = start
    for n, part in enumerate(phrase):
        if n and part not in ("the", "of"):
            while i < len(tokens) and tokens[i].low in ("the", "of") and tokens[i].kind == "word":
                i += 1
        if i >= len(tokens) or tokens[i].kind != "word":
            return 0
        word = _stem(tokens[i].text) if stem else tokens[i].low
        if word != part:
            return 0
        i += 1
    return i - start


def _chunks(question: str, schema: _Schema) -> list[_Chunk]:
    tokens = _tokens(question)
    chunks: list[_Chunk] = []
    i = 0
    max_name = max((len(k) for k in schema.phrases), default=1)
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "lit":
            chunks.append(_Chunk("lit", token.text, token.text, token.text))
            i += 1
            continue
        if token.kind == "date":
            chunks.append(_Chunk("date", token.text, token.text, date.fromisoformat(token.text)))
            i += 1
            continue
        if token.kind == "num":
            number = float(token.text) if "." in token.text else int(token.text)
            chunks.append(_Chunk("num", token.text, token.text, number))
            i += 1
            continue
        if token.kind == "punct":
            key = "and" if token.text in (",", ";") else token.text
            chunks.append(_Chunk("punct" if key != "and" else "kw", key, token.text))
            i += 1
            continue
        best_kw, kw_len = "", 0
        for size in range(min(_MAX_KW, len(tokens) - i), 0, -1):
            for phrase, meaning in _KW_PHRASES.items():
                if len(phrase) == size:
                    n = _match(tokens, i, phrase, stem=False)
                    if n and n > kw_len:
                        best_kw, kw_len = meaning, n
            if kw_len:
                break
        name_len, name_key = 0, cast(tuple[str, ...], ())
        for phrase in schema.phrases:
            if len(phrase) <= max_name:
                n = _match(tokens, i, phrase, stem=True)
                if n > name_len or (n and n == name_len and len(phrase) > len(name_key)):
                    name_len, name_key = n, phrase
        low = token.low
        if kw_len and kw_len >= name_len:
            text = " ".join(t.text for t in tokens[i : i + kw_len])
            chunks.append(_Chunk("kw", best_kw, text))
            i += kw_len
        elif name_len:
            text = " ".join(t.text for t in tokens[i : i + name_len])
            tables, columns = schema.phrases[name_key]
            chunks.append(_Chunk("name", text.lower(), text, tables=set(tables), columns=set(columns)))
            i += name_len
        elif token.text[0].isupper() and i > 0 and low not in _FILLER:
            words = [token.text]
            i += 1
            while i < len(tokens) and tokens[i].kind == "word" and tokens[i].text[0].isupper():
                words.append(tokens[i].text)
                i += 1
            chunks.append(_Chunk("cap", " ".join(words), " ".join(words), " ".join(words)))
        else:
            chunks.append(_Chunk("filler" if low in _FILLER else "word", low, token.text))
            i += 1
    return [_amount(chunk, chunks[n + 1 : n + 2], schema) for n, chunk in enumerate(chunks)]


def _amount(chunk: _Chunk, after: list[_Chunk], schema: _Schema) -> _Chunk:
    """ "amount of" is filler before a column ("amount of horsepower") and the amount column before a table."""
    if chunk.kind != "kw" or chunk.key != "fill:amount":
        return chunk
    if (after and after[0].kind == "name" and after[0].columns) or ("amount",) not in schema.phrases:
        return _Chunk("filler", chunk.key, chunk.text)
    tables, columns = schema.phrases[("amount",)]
    return _Chunk("name", "amount", chunk.text, tables=set(tables), columns=set(columns))


# ---------------------------------------------------------------------------------------------------- reading


class _Decline(Exception):
    def __init__(self, *parts: str) -> None:
        super().__init__(", ".join(parts))
        self.parts = list(parts)


@dataclass
class _Cond:
    ref: _Chunk | None  # the column's name chunk, or None when a hint picks it
    op: str  # = != > < >= <= between range
    values: list[Any]
    hint: str = ""  # location, time, name, boolean, or a column word (age, weight)
    text: str = ""


@dataclass
class _Reading:
    shape: str = "list"  # count, agg, list
    count_distinct: _Chunk | None = None
    aggregates: list[tuple[str, _Chunk]] = field(default_factory=list)
    selects: list[_Chunk] = field(default_factory=list)
    star: bool = False
    distinct: bool = False
    conds: list[_Cond] = field(default_factory=list)
    groups: list[_Chunk] = field(default_factory=list)
    order: list[tuple[_Chunk | str, str]] = field(default_factory=list)  # (column chunk or hint, direction)
    limit: int | None = None
    subjects: list[_Chunk] = field(default_factory=list)  # table mentions
    per_rows: _Chunk | None = None  # a related table whose rows are counted per subject row
    rank: str = ""  # order subject rows by that count: asc or desc
    having: tuple[str, int] | None = None  # or keep subject rows whose count passes (op, number)
    group_table: _Chunk | None = None  # "for each shop": group by the subject's key to that table


class _Reader:
    def __init__(self, chunks: list[_Chunk], schema: _Schema, today: date) -> None:
        self.schema = schema
        self.c = [c for c in chunks if c.kind not in ("filler",)]
        self.today = today
        self.r = _Reading()

    def at(self, i: int) -> _Chunk | None:
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

    def read(self) -> _Reading:
        self.star()
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

    # -- filters

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
            if chunk.kind == "name" and not chunk.tables and types and all(_BOOLEAN.search(t) for t in types):
                negate = self.kw(i - 1, "not") and not self.c[i - 1].used
                self.r.conds.append(_Cond(chunk, "=", [not negate], hint="boolean", text=chunk.text))
                self.use(*([i - 1, i] if negate else [i]))
            elif chunk.kind == "word" and not chunk.used:
                self.enumerated(i)
        i = 0
        while i < len(self.c):
            i = self.condition_at(i) or i + 1

    def enumerated(self, i: int) -> None:
        """A word a column's description lists as one of its values: "open" for status "open, paid or void"."""
        word = self.c[i].key
        found: set[tuple[int, str]] = set()
        spelled = word
        for table, columns in enumerate(self.schema.columns):
            for column in columns:
                values = _listed_values(column.description)
                for value in values:
                    if value.lower() == word and not column.numeric:
                        found.add((table, column.name))
                        spelled = value
        if not found:
            return
        negate = self.kw(i - 1, "not") and not self.c[i - 1].used
        ref = _Chunk("name", word, self.c[i].text, columns=found)
        self.r.conds.append(_Cond(ref, "!=" if negate else "=", [spelled], text=self.c[i].text))
        self.use(*([i - 1, i] if negate else [i]))

    def condition_at(self, i: int) -> int:
        """Read a condition starting at i; the position after it, or 0."""
        start = i
        intro = self.kw(i, "with", "in", "from")
        if intro:
            i += 1
        if self.col(i):
            ref = i
            j = i + 1
            negate = False
            if self.kw(j, "not"):
                negate, j = True, j + 1
            op = "="
            if self.kw(j, "op:"):
                op, j = self.c[j].key.split(":")[1], j + 1
            elif self.kw(j, "between") and self.value(j + 1) and self.kw(j + 2, "and") and self.value(j + 3):
                cond = _Cond(self.c[ref], "between", [self.c[j + 1].value, self.c[j + 3].value])
                self.use(*range(start, j + 4))
                self.r.conds.append(cond)
                return j + 4
            if not self.value(j):
                return 0
            if op == "=" and not negate and not intro and self.c[j].kind != "lit":
                return 0  # "population of Aruba" names a row, it does not filter on population
            values, end = self.values_from(j)
            if op != "=" and (len(values) > 1 or not all(isinstance(v, int | float) for v in values)):
                raise _Decline(" ".join(c.text for c in self.c[start:end]))
            if negate:
                op = {"=": "!=", ">": "<=", "<": ">=", ">=": "<", "<=": ">"}[op]
            self.r.conds.append(_Cond(self.c[ref], op, values, text=self.span(start, end)))
            self.use(*range(start, end))
            return end
        j = i
        negate = False
        if self.kw(j, "not"):
            negate, j = True, j + 1
        if self.kw(j, "op:") and (self.value(j + 1) or (self.col(j + 1) and self.value(j + 2))):
            key = self.c[j].key.split(":")
            op = key[1]
            if len(key) == 3:
                if not isinstance(self.c[j + 1].value, int | float):
                    return 0
                op = {"=": "!=", ">": "<=", "<": ">=", ">=": "<", "<=": ">"}[op] if negate else op
                self.r.conds.append(_Cond(None, op, [self.c[j + 1].value], hint=key[2], text=self.span(start, j + 2)))
                self.use(*range(start, j + 2))
                return j + 2
            if self.col(j + 1) and self.value(j + 2) and len(key) == 2 and isinstance(self.c[j + 2].value, int | float):
                if negate:
                    op = {"=": "!=", ">": "<=", "<": ">=", ">=": "<", "<=": ">"}[op]
                self.r.conds.append(_Cond(self.c[j + 1], op, [self.c[j + 2].value], text=self.span(start, j + 3)))
                self.use(*range(start, j + 3))
                return j + 3
            if self.col(j + 2) and isinstance(self.c[j + 1].value, int | float):
                if negate:
                    op = {"=": "!=", ">": "<=", "<": ">=", ">=": "<", "<=": ">"}[op]
                self.r.conds.append(_Cond(self.c[j + 2], op, [self.c[j + 1].value], text=self.span(start, j + 3)))
                self.use(*range(start, j + 3))
                return j + 3
            return 0
        with_number = self.kw(i - 1 if intro else -1, "with") and self.value(i) and self.col(i + 1) and not negate
        if with_number and isinstance(self.c[i].value, int | float):  # "with 4 cylinders"
            self.r.conds.append(_Cond(self.c[i + 1], "=", [self.c[i].value], text=self.span(start, i + 2)))
            self.use(*range(start, i + 2))
            return i + 2
        if self.kw(start, "named") and self.value(start + 1) and self.c[start + 1].kind in ("lit", "cap"):
            self.r.conds.append(_Cond(None, "=", [self.c[start + 1].value], hint="name"))
            self.use(start, start + 1)
            return start + 2
        return self.time_at(start) or self.place_at(start)

    def time_at(self, i: int) -> int:
        start = i
        ref: _Chunk | None = None
        if self.col(i):
            ref, i = self.c[i], i + 1
        elif self.at(i) is not None and self.c[i].kind == "word" and self.c[i].key in _TIME_VERBS:
            i += 1
        chunk = self.at(i)
        if chunk is None or chunk.used:
            return 0
        if chunk.kind == "kw" and chunk.key.startswith("rel:"):
            low, high = _relative(chunk.key[4:], self.today)
            self.r.conds.append(_Cond(ref, "range", [low, high], hint="time", text=self.span(start, i + 1)))
            self.use(*range(start, i + 1))
            return i + 1
        if not (chunk.kind == "kw" and chunk.key in ("in", "before", "after", "since")):
            return 0
        word = chunk.key
        nxt = self.at(i + 1)
        if nxt is None or nxt.used:
            return 0
        if nxt.kind == "kw" and nxt.key.startswith("rel:") and word == "in":
            low, high = _relative(nxt.key[4:], self.today)
            self.r.conds.append(_Cond(ref, "range", [low, high], hint="time", text=self.span(start, i + 2)))
            self.use(*range(start, i + 2))
            return i + 2
        if nxt.kind == "date" and word != "in":
            op = {"before": "<", "after": ">", "since": ">="}[word]
            self.r.conds.append(_Cond(ref, op, [nxt.value], hint="time", text=self.span(start, i + 2)))
            self.use(*range(start, i + 2))
            return i + 2
        if nxt.kind == "num" and isinstance(nxt.value, int) and 1800 <= nxt.value <= 2100:
            if word == "in":
                years, end = self.values_from(i + 1)
                if not all(isinstance(y, int) and 1800 <= y <= 2100 for y in years):
                    return 0
                self.r.conds.append(_Cond(ref, "year", years, hint="time", text=self.span(start, end)))
                self.use(*range(start, end))
                return end
            op = {"before": "<", "after": ">", "since": ">="}[word]
            self.r.conds.append(_Cond(ref, "year" + op, [nxt.value], hint="time", text=self.span(start, i + 2)))
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
        self.r.conds.append(_Cond(None, op, values, hint="location", text=self.span(start, end)))
        self.use(*range(start, end))
        return end

    def span(self, start: int, end: int) -> str:
        return " ".join(c.text for c in self.c[start:end])

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
                if not self.col(i + 1):
                    raise _Decline(chunk.text)
                j = i + 2
                if self.kw(j, "dir:"):
                    direction = self.c[j].key[4:]
                    self.use(j)
                self.r.order.append((self.c[i + 1], direction or "asc"))
                self.use(i, i + 1)
        for i, chunk in enumerate(self.c):
            if chunk.used or chunk.kind != "kw":
                continue
            if chunk.key == "by" and self.col(i + 1) and (self.r.limit is not None or self.kw(i + 2, "dir:")):
                direction = "desc" if self.r.limit is not None else ""
                if self.kw(i + 2, "dir:"):
                    direction = self.c[i + 2].key[4:]
                    self.use(i + 2)
                self.r.order.append((self.c[i + 1], direction))
                self.use(i, i + 1)
        for i, chunk in enumerate(self.c):
            if not chunk.used and chunk.kind == "kw" and chunk.key.startswith("dir:"):
                if not self.r.order and chunk.key == "dir:alpha":
                    self.r.order.append(("alpha", "asc"))
                elif self.r.order and isinstance(self.r.order[-1][0], _Chunk) and not self.r.order[-1][1]:
                    self.r.order[-1] = (self.r.order[-1][0], chunk.key[4:])
                else:
                    raise _Decline(chunk.text)
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
                raise _Decline("a second count")
            self.r.shape = "count"
            if self.kw(j, "distinct") and self.col(j + 1):
                self.r.count_distinct = self.c[j + 1]
                self.use(j, j + 1)
            elif self.at(j) is not None and self.c[j].kind == "name" and self.c[j].tables and not self.c[j].used:
                self.r.subjects.append(self.c[j])
                self.use(j)
            elif j > i + 1 and self.c[j - 1].used and any(c.hint == "boolean" for c in self.r.conds):
                pass  # "how many paying customers": the yes/no column's table is the subject
            else:
                raise _Decline(f"{chunk.text} {self.c[j].text if self.at(j) else ''}".strip())

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
                raise _Decline("a count and an aggregate together")
            self.r.shape = "agg"

    def superlatives(self) -> None:
        for i, chunk in enumerate(self.c):
            if chunk.used or chunk.kind != "kw":
                continue
            if chunk.key.startswith("agg:") and self.col(i + 1) and self.r.shape == "list":
                direction = "desc" if chunk.key == "agg:max" else "asc" if chunk.key == "agg:min" else ""
                if not direction or self.r.order:
                    raise _Decline(chunk.text)
                self.r.order.append((self.c[i + 1], direction))
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
                    raise _Decline(chunk.text)
                self.r.per_rows, self.r.rank = target, "desc" if chunk.key == "most" else "asc"
                self.use(*range(i, j + 1))
                if self.kw(i - 1, "with"):
                    self.use(i - 1)
            elif chunk.key in ("common", "rare") and self.col(i + 1):
                self.r.groups.append(self.c[i + 1])
                self.r.rank = "desc" if chunk.key == "common" else "asc"
                self.use(i, i + 1)
            elif chunk.key == "with" and self.kw(i + 1, "op:") and self.value(i + 2):
                op, number = self.c[i + 1].key.split(":"), self.c[i + 2].value
                j = i + 3
                while self.kw(j, "count"):
                    j += 1
                target = self.at(j)
                if len(op) != 2 or not isinstance(number, int) or target is None or target.used:
                    continue
                if target.kind != "name" or not target.tables or target.columns:
                    continue
                if self.r.per_rows is not None:
                    raise _Decline(chunk.text)
                self.r.per_rows, self.r.having = target, (op[1], number)
                self.use(*range(i, j + 1))

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
                    raise _Decline(f"{chunk.text} {self.c[i + 1].text if self.at(i + 1) else ''}".strip())
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
                    self.r.selects.append(chunk)
                chunk.used = True

    def leftovers(self) -> None:
        left = []
        for chunk in self.c:
            if chunk.used or chunk.kind == "punct":
                continue
            if chunk.kind == "kw" and chunk.key in ("and", "open", "fill"):
                continue
            if chunk.kind == "kw" and chunk.key == "fill:order" and self.r.order:
                continue
            if chunk.kind == "kw" and chunk.key == "with" and chunk is self.c[-1]:
                continue  # "how many nationalities do conductors have"
            if chunk.kind == "word" and chunk.key in _HARMLESS:
                continue
            left.append(chunk.text)
        if left:
            raise _Decline(*left)


def _relative(word: str, today: date) -> tuple[date, date]:
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


# ---------------------------------------------------------------------------------------------------- tables


@dataclass
class _Plan:
    tables: list[int]  # the subject first; a second table is joined along a foreign key
    join: tuple[_Column, _Column] | None = None  # (subject's referencing column, referenced column)


def _columns_of(chunk: _Chunk, tables: Iterable[int]) -> list[tuple[int, str]]:
    wanted = set(tables)
    return sorted(c for c in chunk.columns if c[0] in wanted)


def _refs(reading: _Reading) -> list[_Chunk]:
    refs = [c.ref for c in reading.conds if c.ref is not None]
    refs += [chunk for _, chunk in reading.aggregates] + reading.selects + reading.groups
    refs += [ref for ref, _ in reading.order if isinstance(ref, _Chunk)]
    if reading.count_distinct is not None:
        refs.append(reading.count_distinct)
    return refs


def _links(schema: _Schema, source: int, target: int) -> list[tuple[_Column, _Column]]:
    """Foreign keys from one table to another: (referencing column, referenced column)."""
    found = []
    for column in schema.columns[source]:
        if column.references is None or schema.table_index(column.references[0]) != target:
            continue
        referenced = next((c for c in schema.columns[target] if c.name.lower() == column.references[1].lower()), None)
        if referenced is not None:
            found.append((column, referenced))
    return found


def _plan(reading: _Reading, schema: _Schema) -> _Plan:
    refs = _refs(reading)
    ranked = list(range(len(schema.cards)))
    subjects = reading.subjects

    def fits(tables: list[int]) -> bool:
        return all(_columns_of(ref, tables) for ref in refs) and all(
            any(i in s.tables for i in tables) for s in subjects
        )

    mentioned = [i for i in ranked if any(i in s.tables for s in subjects)]
    if reading.per_rows is not None:
        counted = [i for i in ranked if i in reading.per_rows.tables]
        if not reading.groups and reading.selects and not [i for i in mentioned if i not in counted]:
            for table in counted:
                if fits([table]):
                    reading.groups = list(reading.selects)
                    return _Plan([table])
        if reading.groups:
            for table in counted:
                if fits([table]):
                    return _Plan([table])
        else:
            for first in mentioned or ranked:
                for table in counted:
                    links = _links(schema, table, first) if table != first else []
                    if len(links) == 1 and fits([first, table]):
                        return _Plan([first, table], links[0])
        raise _Decline(f"how {reading.per_rows.text} relate to the rest of the question")
    if reading.group_table is None:
        for index in mentioned or ranked:
            if fits([index]) and all(index in s.tables for s in subjects):
                return _Plan([index])
    # Two tables: the subject holds a foreign key to the other, so each subject row meets at most one row.
    firsts = [i for i in ranked if subjects and i in subjects[0].tables] or ranked[:1]
    for first in firsts:
        for other in ranked:
            if reading.group_table is not None and other not in reading.group_table.tables:
                continue
            links = _links(schema, first, other) if other != first else []
            if len(links) == 1 and fits([first, other]):
                return _Plan([first, other], links[0])
    names = [s.text for s in subjects] + [r.text for r in refs]
    raise _Decline("no single table or foreign-key pair holds " + ", ".join(dict.fromkeys(names)))


# ---------------------------------------------------------------------------------------------------- building


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


class _Builder:
    def __init__(self, reading: _Reading, schema: _Schema, plan: _Plan, dialect: str | None) -> None:
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

    def resolve(self, chunk: _Chunk, prefer: int | None = None) -> _Column:
        options = _columns_of(chunk, self.p.tables)
        if len(options) > 1:
            tables = {t for t, _ in options}
            if len(tables) > 1:
                first = self.p.tables[0] if prefer is None else prefer
                options = [o for o in options if o[0] == first]
            if len({n.lower() for _, n in options}) > 1:
                raise _Decline(f"{chunk.text} (more than one column)")
        if not options:
            raise _Decline(chunk.text)
        table, name = options[0]
        return self.s.column(table, name)

    def ref(self, column: _Column) -> exp.Column:
        qualifier = _ident(str(self.s.cards[column.table]["name"])) if self.p.join else None
        return exp.Column(this=_ident(column.name), table=qualifier)

    def hinted(self, hint: str) -> _Column:
        """The one column a hint points at in the planned tables."""
        found: list[_Column] = []
        for table in self.p.tables:
            for column in self.s.columns[table]:
                if (
                    (hint == "location" and set(column.words) & _LOCATION_WORDS and not column.numeric)
                    or (hint == "time" and (column.temporal or column.yearly))
                    or (hint == "name" and _is_label(column, self.s.cards[table]))
                    or (hint in ("age", "weight", "height") and hint in column.words and column.numeric)
                ):
                    found.append(column)
        if hint == "name" and len(found) > 1:
            found = [c for c in found if c.words == ["name"]] or found
        if len(found) != 1:
            raise _Decline(f"which column means {hint}")
        return found[0]

    def condition(self, cond: _Cond) -> exp.Expr:
        column = self.resolve(cond.ref) if cond.ref is not None else self.hinted(cond.hint)
        ref = self.ref(column)
        values = cond.values
        if cond.op == "range":
            if not column.temporal:
                raise _Decline(f"{cond.text} (not a date column)")
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
                raise _Decline(cond.text)
        if cond.hint == "time" and column.temporal and cond.op in ("<", ">", ">="):
            values = [v.isoformat() if isinstance(v, date) else v for v in values]
        op = (cond.op[4:] or "=") if cond.op.startswith("year") else cond.op
        if op == "between":
            if not column.numeric:
                raise _Decline(f"{cond.text} (not a number column)")
            self.words.append(f"{column.name} between {values[0]} and {values[1]}")
            return exp.Between(this=ref, low=_literal(values[0]), high=_literal(values[1]))
        if op in ("<", ">", "<=", ">=") and not (column.numeric or column.temporal or column.yearly):
            raise _Decline(f"{cond.text} (not a number column)")
        typed = [_typed(v, column) for v in values]
        self.words.append(f"{column.name} {_say(op)} {' or '.join(_quote(v) for v in typed)}")
        exprs = [_compare(ref.copy(), op, _literal(v)) for v in typed]
        if op == "!=" and len(exprs) > 1:
            return exp.and_(*exprs)
        return exp.or_(*exprs) if len(exprs) > 1 else exprs[0]

    def order_column(self, ref: _Chunk | str) -> _Column:
        if isinstance(ref, _Chunk):
            return self.resolve(ref)
        if ref == "alpha":
            if len(self.r.selects) != 1:
                raise _Decline("alphabetical order of which column")
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
            raise _Decline("a count of related rows together with another count, aggregate or order")
        if r.group_table is not None and r.shape == "list":
            raise _Decline(f"for each {r.group_table.text} without a count or aggregate")
        if r.group_table is not None:
            wanted = [self.resolve(chunk, prefer=self.p.tables[-1]) for chunk in r.selects]
            source, target = self.p.join or (None, None)
            if source is None or target is None:
                raise _Decline(f"for each {r.group_table.text}")
            if not wanted:
                self.p = _Plan(self.p.tables[:1])
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
                    raise _Decline(f"{function} of {chunk.text} (not a number column)")
                if not (column.numeric or column.temporal) and function in ("min", "max"):
                    raise _Decline(f"{function} of {chunk.text} (not a number column)")
                node = {"avg": exp.Avg, "sum": exp.Sum, "max": exp.Max, "min": exp.Min}[function]
                projections.append(node(this=self.ref(column)))
                parts.append(f"{_FUNCTION_WORDS[function]} {column.name}")
            summary = f"computes {' and '.join(parts)} of {label}"
        selects = [self.resolve(chunk) for chunk in r.selects]
        if r.shape in ("count", "agg"):
            if r.group_table is not None:
                pass
            elif selects and not groups:
                if r.shape != "count":
                    raise _Decline(", ".join(chunk.text for chunk in r.selects))
                groups = selects
            elif selects and {(c.table, c.name) for c in selects} != {(c.table, c.name) for c in groups}:
                raise _Decline(", ".join(chunk.text for chunk in r.selects))
            if r.distinct:
                raise _Decline("different")
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
                    raise _Decline(", ".join(chunk.text for chunk in r.selects))
            else:
                if self.p.join is None:
                    raise _Decline("how the counted rows relate")
                key = self.p.join[1]
                groups = [key, *[c for c in selects if (c.table, c.name) != (key.table, key.name)]]
            counted = r.per_rows.text if r.per_rows is not None else "rows"
            summary = f"lists {', '.join(c.name for c in selects)} of {label} by their number of {counted}"
        else:
            if r.star:
                if selects or self.p.join:
                    raise _Decline("all information together with columns")
                projections = [exp.Star()]
                summary = f"lists every column of {label}"
            else:
                if not selects:
                    selects = [self.label_column()]
                projections = [self.ref(c) for c in selects]
                summary = f"lists {', '.join(c.name for c in selects)} of {label}"
            if groups:
                raise _Decline("group without a count or aggregate")
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
        if r.conds:
            conditions: list[Any] = [self.condition(c) for c in r.conds]
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
                    raise _Decline(f"from {direction}est")
            if direction == "alpha":
                direction = "asc"
            orders.append(self.ordered(self.ref(column), direction == "desc"))
            summary += f", ordered by {column.name}{' descending' if direction == 'desc' else ''}"
        if orders:
            if r.shape != "list":
                raise _Decline("ordering of a count or aggregate")
            query = query.order_by(*orders, copy=False)
        if r.limit is not None:
            if not orders:
                raise _Decline("top without an order")
            query = query.limit(r.limit, copy=False)
            summary += f", first {r.limit} only" if r.limit != 1 else ", the first only"
        self.summary = summary
        return query

    def label_column(self) -> _Column:
        """What names a row of the subject table: its name column."""
        index = self.p.tables[0]
        found = [c for c in self.s.columns[index] if _is_label(c, self.s.cards[index])]
        if len(found) > 1:
            found = [c for c in found if c.words == ["name"]] or found
        if len(found) != 1:
            raise _Decline("which column names a row")
        return found[0]


_FUNCTION_WORDS = {"avg": "the average of", "sum": "the total of", "max": "the largest", "min": "the smallest"}


def _is_label(column: _Column, card: dict[str, Any]) -> bool:
    table = [_stem(w) for w in _name_words(str(card["name"]))]
    stems = [_stem(w) for w in column.words]
    return not column.numeric and (stems in (["name"], [*table, "name"], table, ["title"], [*table, "title"]))


def _table_words(card: dict[str, Any]) -> str:
    return str(card["name"])


def _typed(value: Any, column: _Column) -> Any:
    if isinstance(value, bool):
        if not _BOOLEAN.search(column.type):
            raise _Decline(f"{column.name} is not a yes/no column")
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not (column.numeric or column.yearly):
        return str(value)
    if isinstance(value, str) and column.numeric:
        raise _Decline(f"'{value}' as {column.name}")
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


# ---------------------------------------------------------------------------------------------------- entry


def build(
    question: str, tables: list[dict[str, Any]], dialect: str | None = None, *, today: date | None = None
) -> Draft:
    """One SELECT answering the question from the ranked table/view cards, or a refusal naming what it can't say."""
    cards = [c for c in tables if c.get("type", "table") in ("table", "view") and c.get("columns")]
    if not cards:
        return Draft(None, [], "No table in the catalog fits the question.", ["which table"])
    schema = _schema(cards)
    chunks = _chunks(question, schema)
    try:
        reading = _Reader(chunks, schema, today or date.today()).read()
        plan = _plan(reading, schema)
        builder = _Builder(reading, schema, plan, dialect)
        query = builder.build()
    except _Decline as declined:
        used = [str(c["id"]) for c in cards[:1]]
        parts = declined.parts or ["the question"]
        return Draft(None, used, f"Cannot express {', '.join(parts)} from the catalog's metadata.", parts)
    ids = [str(schema.cards[i]["id"]) for i in builder.p.tables]
    return Draft(query.sql(dialect=dialect or None), ids, builder.summary[:1].upper() + builder.summary[1:] + ".")
