"""The cards as the builder sees them: columns with types and keys, and the phrases that name them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .vocabulary import (
    BOOLEAN,
    FILLER,
    GENERIC_SUFFIXES,
    KEYWORD_STARTS,
    NUMERIC,
    TEMPORAL,
    VIEW_PREFIXES,
    name_words,
    stem_word,
)


@dataclass
class Column:
    table: int  # index in Schema.cards
    name: str
    type: str
    words: list[str]
    primary_key: bool
    references: tuple[str, str] | None  # (table name, column name)
    description: str = ""

    @property
    def numeric(self) -> bool:
        return bool(NUMERIC.search(self.type))

    @property
    def temporal(self) -> bool:
        return bool(TEMPORAL.search(self.type))

    @property
    def yearly(self) -> bool:
        return "year" in self.words and not self.temporal


@dataclass
class Schema:
    cards: list[dict[str, Any]]
    columns: list[list[Column]] = field(default_factory=list)
    phrases: dict[tuple[str, ...], tuple[set[int], set[tuple[int, str]]]] = field(default_factory=dict)

    def column(self, table: int, name: str) -> Column:
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


def listed_values(description: str) -> list[str]:
    """Values a description enumerates: "open, paid or void", "one of 'a', 'b'"; none for prose."""
    quoted = re.findall(r"'([^']{1,40})'|\"([^\"]{1,40})\"", description)
    if quoted:
        return [a or b for a, b in quoted]
    text = description.strip()
    while re.search(r"\([^()]*\)", text):  # "SMB (<100), Enterprise (1000+)": what a value means is not the value
        text = re.sub(r"\s*\([^()]*\)", "", text)
    text = re.sub(r"^[^:]{0,40}:\s*", "", text).rstrip(".")
    parts = [p.strip() for p in re.split(r",|\bor\b|\band\b|\|", text)]
    parts = [p for p in parts if p]  # "a, b, or c"
    if len(parts) < 2 or not all(re.fullmatch(r"[A-Za-z0-9_-]{1,30}", p) for p in parts):
        return []
    return parts


# Words that end the noun a description calls its rows: "one row per rental of a copy", "... per plan, synced".
_PHRASE_ENDS = frozenset("of in to for with from on at by that which who whose where when as".split())


def row_names(description: str, table: list[str]) -> list[list[str]]:
    """What a table's description calls its rows, as further names of the table.

    Its opening words when they end in the table's own name ("Price plans offered to customers" for plans),
    and the noun after "one row per" ("one row per churned paid subscription"), also said with only its first
    modifier ("churned subscription"). Not a grain of two things ("one row per tier and interval").
    """
    tokens = re.findall(r"[a-z][a-z0-9_-]*|[^\sa-z]", description.lower())
    stems = [stem_word(t) for t in tokens]
    own = [stem_word(w) for w in table]
    found: list[list[str]] = []

    def plain(words: list[str]) -> bool:
        return all(w.isalpha() and w not in FILLER and w not in KEYWORD_STARTS for w in words)

    for size in (1, 2):
        if stems[size : size + len(own)] == own and plain(tokens[:size]):
            found.append(tokens[: size + len(own)])
    for start in range(len(tokens) - 3):
        if tokens[start : start + 3] != ["one", "row", "per"]:
            continue
        end = start + 3
        while end < len(tokens) and tokens[end].isalpha() and tokens[end] not in _PHRASE_ENDS | {"and", "or"}:
            end += 1
        noun = tokens[start + 3 : end]
        if not noun or len(noun) > 4 or not plain(noun) or (end < len(tokens) and tokens[end] in ("and", "or")):
            continue
        found.append(noun)
        if len(noun) > 2:
            found.append([noun[0], noun[-1]])
    return found


def read_schema(cards: list[dict[str, Any]]) -> Schema:
    schema = Schema(cards)

    def add(words: Iterable[str], table: int | None, column: tuple[int, str] | None) -> None:
        key = tuple(stem_word(w) for w in words if w)
        if not key:
            return
        tables, columns = schema.phrases.setdefault(key, (set(), set()))
        if table is not None:
            tables.add(table)
        if column is not None:
            columns.add(column)

    for index, card in enumerate(cards):
        words = name_words(str(card["name"]))
        if len(words) > 1 and words[0] in VIEW_PREFIXES:
            words = words[1:]
        add(words, index, None)
        if len(words) > 1 and words[-1] in GENERIC_SUFFIXES:
            add(words[:-1], index, None)  # "cars" for cars_data
        described = _short(str(card.get("description") or ""))
        if described:
            add(described, index, None)
        columns = [[stem_word(w) for w in name_words(str(c["name"]))] for c in card.get("columns") or []]
        for phrase in row_names(str(card.get("description") or ""), words):
            if [stem_word(w) for w in phrase] not in columns:  # "one row per title": the title column, not a name
                add(phrase, index, None)
        table_stem = " ".join(stem_word(w) for w in words)
        found: list[Column] = []
        for raw in card.get("columns") or []:
            name = str(raw["name"])
            cwords = name_words(name)
            reference = None
            if raw.get("references"):
                parts = str(raw["references"]).split(".")
                if len(parts) >= 2:
                    reference = (parts[-2], parts[-1])
            column = Column(
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
            stems = [stem_word(w) for w in cwords]
            # "singer_name" in singer is also just "name"; "created_at" is also "created".
            prefix = table_stem.split()
            if len(stems) > len(prefix) and stems[: len(prefix)] == prefix:
                add(cwords[len(prefix) :], None, (index, name))
            if column.temporal and len(cwords) > 1 and cwords[-1] in ("at", "on", "date", "time"):
                add(cwords[:-1], None, (index, name))
            if BOOLEAN.search(column.type) and len(cwords) > 1 and cwords[0] in ("is", "has", "was"):
                add(cwords[1:], None, (index, name))
        schema.columns.append(found)
    _add_partial_names(schema)
    return schema


# Words too weak to name a column alone, and abbreviations spelled out as a question would say them.
_WEAK = frozenset("of the and a an in on by to for at is has was id ids".split())
_SPELLED = {"num": "number", "no": "number", "qty": "quantity", "amt": "amount", "desc": "description"}


def _add_partial_names(schema: Schema) -> None:
    """Shorter names for columns: "net worth" for net_worth_millions, "rank of winners" for winner_rank.

    A run of a column's words, or its words turned around an "of", names the column when no other column
    of its table has it and nothing in the schema is already called that: a partial name never shadows a full one.
    """
    taken = set(schema.phrases)
    for index, columns in enumerate(schema.columns):
        table = [stem_word(w) for w in name_words(str(schema.cards[index]["name"]))]
        found: dict[tuple[str, ...], set[str]] = {}
        for column in columns:
            words = [_SPELLED.get(w, w) for w in column.words]
            stems = [stem_word(w) for w in words]
            keys: set[tuple[str, ...]] = set()
            if words != column.words and tuple(stems) not in taken:
                found.setdefault(tuple(stems), set()).add(column.name)  # spelled out in full: may start like a keyword
            for start in range(len(stems)):
                for end in range(start + 1, len(stems) + 1):
                    part, rest = stems[start:end], stems[:start] + stems[end:]
                    generic = len(part) == 1 and end == len(stems)  # "name" of series_name is too generic alone
                    weak = set(rest) <= _WEAK or part[0] in _WEAK or part[-1] in _WEAK
                    if rest and not weak and not generic:
                        keys.add(tuple(part))
            for cut in range(1, len(stems)):
                head, tail = stems[:cut], [w for w in stems[cut:] if w != "of"]
                if tail and head[-1] != "of" and not schema.phrases.get(tuple(head), ((), ()))[0]:
                    keys.add((*tail, *head))  # "rank of winners" for winner_rank; not "id of courses" for course_id
            for key in keys:
                if key[0] not in KEYWORD_STARTS and not _within(list(key), table):
                    found.setdefault(key, set()).add(column.name)
        for key, names in found.items():
            if len(names) == 1 and key not in taken:
                schema.phrases.setdefault(key, (set(), set()))[1].add((index, next(iter(names))))


def _within(part: list[str], whole: list[str]) -> bool:
    """Whether the words run somewhere inside the other words: "player" in poker_player."""
    return any(whole[i : i + len(part)] == part for i in range(len(whole) - len(part) + 1))
