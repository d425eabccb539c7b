"""Which cards answer "where is X": the question's words found in names first, then columns, then prose."""

from __future__ import annotations

from typing import Any

from rapidfuzz import fuzz

from datadesk.ai.local.text import singular, words

PLACES = ("table", "view", "glossary_term", "document", "dashboard")
NAME, COLUMN, PROSE, NAMED, TABLE_LIKE = 2.0, 1.0, 0.5, 1.0, 0.5


def same_word(asked: str, word: str) -> bool:
    """One asked word and one word of a name: equal, a typo apart (long words only), or a part of it
    ("language" in countrylanguage)."""
    a, w = singular(asked), singular(word)
    return a == w or (min(len(a), len(w)) >= 5 and fuzz.ratio(a, w) >= 80) or (len(a) >= 5 and a in w)


def _found(asked: list[str], vocabulary: list[str]) -> int:
    return sum(any(same_word(a, w) for w in vocabulary) for a in asked)


def score(card: dict[str, Any], asked: list[str], named: set[str]) -> float:
    """How well a card fits the asked words."""
    name = words(str(card.get("name", "")))
    columns = [w for c in card.get("columns") or [] for w in words(str(c.get("name", "")))]
    columns += [w for n in card.get("column_names") or [] for w in words(str(n))]
    prose = {singular(w) for w in words(str(card.get("description") or card.get("definition") or ""))}
    value = NAME * _found(asked, name) + COLUMN * _found(asked, columns)
    value += PROSE * sum(singular(a) in prose for a in asked)
    if value and card["id"] in named:
        value += NAMED
    if value and card.get("type") in ("table", "view"):
        value += TABLE_LIKE
    return value


def places(cards: list[dict[str, Any]], asked: list[str], named: set[str], limit: int = 5) -> list[dict[str, Any]]:
    """The cards that carry the asked words, best first; retrieval's order breaks ties."""
    pool = list({c["id"]: c for c in cards if c.get("type") in PLACES}.values())
    scored = [(score(c, asked, named), i, c) for i, c in enumerate(pool)]
    return [c for s, _, c in sorted(scored, key=lambda x: (-x[0], x[1])) if s > 0][:limit]
