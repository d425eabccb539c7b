"""Which catalog things a question names: fuzzy matching of its word spans against card names.

Candidates are the cards the local provider was given (retrieval's context, ranked by meaning and words,
and later tool results) and the columns inside table cards. A span matches a name when their singular word
forms are equal or nearly so (typos); a name's core without a modelling prefix ("customers" for
dim_customers) matches a little less well. Ties go to the card retrieval ranked first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from datadesk.ai.local import sources
from datadesk.ai.local.text import KIND_WORDS, STOPWORDS, key, singular, words

PREFIXES = ("dim", "fct", "fact", "stg", "int", "v", "vw", "raw", "src", "rpt", "mart", "is", "has")
UNITS = ("usd", "eur", "gbp", "cents", "pct")  # "contraction mrr" names contraction_mrr_usd
EXACT, CORE, NEAR = 100.0, 92.0, 88.0
SOURCE_BONUS = 4.0  # a thing of the source the question names ("the payment table in pagila")
# "MQL: a lead whose ..." - a term's definition naming what it defines, at the start of a sentence.
_ALIAS = re.compile(r"(?:^|(?<=[.;]\s))([A-Za-z][A-Za-z0-9/&' -]{0,40}?):\s")
_IDENTIFIER = re.compile(r"[A-Za-z0-9]+(?:[._][A-Za-z0-9]+)+")  # as typed in SQL: schema.table, table.column
_KIND_AFTER = {"table": ("table", "view"), "view": ("view", "table"), "dashboard": ("dashboard",)}


@dataclass
class Thing:
    card: dict[str, Any]
    column: dict[str, Any] | None = None  # a column listed inside a table card
    rank: int = 0  # the card's position among those given: retrieval's order
    aliases: tuple[str, ...] = ()  # other names a glossary term's definition gives it
    sources: frozenset[str] = frozenset()  # the source(s) its card lives in

    @property
    def type(self) -> str:
        return "column" if self.column is not None else str(self.card.get("type", ""))

    @property
    def name(self) -> str:
        return str((self.column or self.card)["name"])

    @property
    def qualified(self) -> str:
        return "" if self.column is not None else str(self.card.get("qualified_name") or "")


@dataclass
class Mention:
    start: int
    end: int  # word positions in the question, end exclusive
    score: float
    things: list[Thing] = field(default_factory=list)  # best first
    whole: bool = False  # some name matched word for word (no typo allowance)


def _surfaces(thing: Thing) -> list[tuple[str, float]]:
    name, qualified = thing.name, thing.qualified
    full = key(name)
    found = [(full, EXACT)]
    parts = qualified.split(".")
    if len(parts) >= 3 and parts[-1] == name:  # "marketing.leads": schema and name, as people qualify a table
        found.append((key(f"{parts[-2]} {name}"), EXACT + 2))
    if thing.column is not None:  # "subscriptions.mrr_usd": a column qualified by its table
        found.append((key(f"{thing.card['name']} {name}"), EXACT + 2))
    parts = full.split()
    if len(parts) > 1 and parts[0] in PREFIXES:
        found.append((" ".join(parts[1:]), CORE))
    if len(parts) > 2 and parts[-1] in UNITS:
        found.append((" ".join(parts[:-1]), CORE))
    if 2 <= len(parts) <= 5 and qualified.count(".") <= 1:  # a glossary-like name: "NRR" for Net revenue retention
        found.append(("".join(p[0] for p in parts), CORE))
    for alias in thing.aliases:
        found.append((key(alias), EXACT))
        words = key(alias).split()
        if 2 <= len(words) <= 5:
            found.append(("".join(w[0] for w in words), CORE))
    return found


def aliases(card: dict[str, Any]) -> tuple[str, ...]:
    """The names a glossary term's definition gives what it defines ("Annual recurring revenue: 12 x MRR")."""
    if card.get("type") != "glossary_term":
        return ()
    text = str(card.get("definition") or card.get("description") or "")
    found = [m.strip() for m in _ALIAS.findall(text) if 1 <= len(m.split()) <= 4]
    return tuple(a for a in found if key(a) != key(str(card["name"])))


def candidates(cards: list[dict[str, Any]]) -> list[Thing]:
    things: list[Thing] = []
    seen: set[tuple[str, str]] = set()
    for rank, card in enumerate(cards):
        if card.get("type") in ("database", "schema"):
            continue  # containers are browsed, not asked about; "acme" in a question is rarely the database
        where = frozenset(sources.keys_of(card))
        if (card["id"], "") not in seen:
            seen.add((card["id"], ""))
            things.append(Thing(card, None, rank, aliases(card), where))
        for column in card.get("columns") or [{"name": n} for n in card.get("column_names", [])]:
            if (card["id"], column["name"]) not in seen:
                seen.add((card["id"], column["name"]))
                things.append(Thing(card, column, rank, (), where))
    return things


def link(tokens: list[str], things: list[Thing], raw: str = "", prefer: frozenset[str] = frozenset()) -> list[Mention]:
    """Non-overlapping mentions, in the order of the question; `raw` is the question as typed, `prefer` the
    sources it names."""
    keys = [singular(t) for t in tokens]
    by_span: dict[tuple[int, int], Mention] = {}
    for thing in things:
        for surface, weight in _surfaces(thing):
            size = len(surface.split())
            if not surface or size > 6:
                continue
            for width in {size, size + 1} if size > 1 else {1}:
                for start in range(0, len(keys) - width + 1):
                    span = keys[start : start + width]
                    if all(w in STOPWORDS or w in KIND_WORDS for w in span):
                        continue
                    text = " ".join(span)
                    joined = "".join(span)
                    whole = True
                    if text == surface or joined == surface.replace(" ", ""):
                        score = weight
                    elif width > 1 and size == 1 and len(surface) == width and "".join(w[0] for w in span) == surface:
                        score = CORE  # "annual recurring revenue" for ARR
                    elif min(len(text), len(surface)) >= 5:
                        score = weight * fuzz.ratio(text, surface) / 100 * (0.98 if width != size else 1.0)
                        whole = False
                    else:
                        continue
                    if score < NEAR:
                        continue
                    mention = by_span.setdefault((start, start + width), Mention(start, start + width, 0.0))
                    mention.score = max(mention.score, score)
                    mention.whole = mention.whole or whole
                    mention.things.append(thing)
    for place, mention in list(by_span.items()):
        scored = {id(t): _score(t, mention, keys, raw.lower(), prefer) for t in mention.things}
        mention.things.sort(key=lambda t: (-scored[id(t)], t.column is not None, t.rank))
        # "the subscriptions table" names a table: a column of that name elsewhere is not what was asked.
        after = keys[mention.end] if mention.end < len(keys) else ""
        if after in _KIND_AFTER:
            mention.things = [t for t in mention.things if t.type in _KIND_AFTER[after]]
            if not mention.things:
                del by_span[place]
    chosen: list[Mention] = []
    taken: set[int] = set()
    # Names matched word for word, longest first ("contraction mrr" over the MRR inside it); then typos.
    ordered = sorted(
        by_span.values(), key=lambda m: (not m.whole, -(m.end - m.start) if m.whole else 0, -m.score, m.start)
    )
    for mention in ordered:
        if taken.isdisjoint(range(mention.start, mention.end)):
            chosen.append(mention)
            taken.update(range(mention.start, mention.end))
    return sorted(chosen, key=lambda m: m.start)


def _score(thing: Thing, mention: Mention, keys: list[str], raw: str, prefer: frozenset[str]) -> float:
    best = max(
        (fuzz.ratio(" ".join(keys[mention.start : mention.end]), s) * w / 100 for s, w in _surfaces(thing)),
        default=0.0,
    )
    if prefer & thing.sources:
        best += SOURCE_BONUS
    # A word right after the mention saying what kind of thing it is decides between same-named faces.
    after = keys[mention.end] if mention.end < len(keys) else ""
    before = keys[mention.start - 1] if mention.start > 0 else ""
    kind = {
        "column": "column",
        "field": "column",
        "table": "table",
        "view": "view",
        "term": "glossary_term",
        "dashboard": "dashboard",
        "document": "document",
        "doc": "document",
    }
    wanted = kind.get(after) or kind.get(before)
    if wanted and (thing.type == wanted or (wanted == "table" and thing.type == "view")):
        best += 5
    if "_" in thing.name and thing.name.lower() in raw:  # typed as the identifier itself
        best += 3
    return best


def masked(tokens: list[str], mentions: list[Mention], keep: frozenset[str] = frozenset(), raw: str = "") -> str:
    """The question with named things replaced by X, Y, ... for the intent classifier. A mention made only of
    `keep` words (those that say what is asked: "owner", "columns") stays as typed, unless `raw`, the question
    as typed, spells it as an identifier ("top.total", "total_amount"): that names a thing, whatever its words."""
    out: list[str] = []
    letters = iter("XYZW")
    typed = {tuple(words(m)) for m in _IDENTIFIER.findall(raw)}
    starts = {
        m.start: m
        for m in mentions
        if not all(w in keep for w in tokens[m.start : m.end]) or tuple(tokens[m.start : m.end]) in typed
    }
    i = 0
    while i < len(tokens):
        if i in starts:
            out.append(next(letters, "X"))
            i = starts[i].end
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)
