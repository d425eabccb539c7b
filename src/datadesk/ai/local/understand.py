"""A question understood: its words spelled right, the catalog things it names, and what it asks."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from datadesk.ai.local import intents, linking, sources
from datadesk.ai.local.examples import EXAMPLES
from datadesk.ai.local.text import KIND_WORDS, STOPWORDS, Speller, singular, words

# Words that say what is asked, not about what: never part of a tag, a person or a search.
CUE_WORDS = frozenset(w for phrases in EXAMPLES.values() for p in phrases for w in words(p)) - {"x", "y", "t", "p"}
MIN_SCORE = 0.3
_JOINING = frozenset({"vs", "versus", "or", "and"})


@dataclass
class Understood:
    question: str
    tokens: list[str]  # spelled towards the catalog, the words naming a source taken out
    mentions: list[linking.Mention]
    intent: str
    score: float
    sources: list[str] = field(default_factory=list)  # the sources the question names ("pagila")
    data_question: str = ""  # the question as typed without the words naming a source, for the SQL builder

    def __post_init__(self) -> None:
        self.data_question = self.data_question or self.question

    def things(self, *types: str) -> list[linking.Thing]:
        """The best thing of each mention, of these types when given."""
        found = []
        # A name that is also a word of the question's ask ("owner" and an Owners table) comes last.
        mentions = sorted(self.mentions, key=lambda m: all(w in CUE_WORDS for w in self.tokens[m.start : m.end]))
        for mention in mentions:
            pick = next((t for t in mention.things if not types or t.type in types), None)
            if pick is not None:
                found.append(pick)
        return found

    def free_words(self) -> list[str]:
        """Words outside every mention that are neither filler nor intent cues: a tag, a Team, a topic."""
        inside = {i for m in self.mentions for i in range(m.start, m.end)}
        return [
            w
            for i, w in enumerate(self.tokens)
            if i not in inside and w not in STOPWORDS and w not in KIND_WORDS and w not in CUE_WORDS
        ]

    def head(self, *types: str) -> linking.Thing | None:
        """The thing a noun phrase is about: in "dog breeds" the last of adjacent names, like English heads."""
        mentions = [m for m in self.mentions if any(not types or t.type in types for t in m.things)]
        run = mentions[:1]
        for mention in mentions[1:]:
            if mention.start != run[-1].end:
                break
            run.append(mention)
        if not run:
            return None
        return next(t for t in run[-1].things if not types or t.type in types)

    def unknown(self, cards: list[dict[str, Any]]) -> list[str]:
        """Content words outside every mention that no card's name, columns or prose uses."""
        known: set[str] = set()
        for card in cards:
            text = " ".join(str(card.get(k) or "") for k in ("name", "description", "definition"))
            known.update(singular(w) for w in words(text))
            known.update(singular(w) for c in card.get("columns") or [] for w in words(str(c.get("name", ""))))
        inside = {i for m in self.mentions for i in range(m.start, m.end)}
        content = set(self.content_words())
        return [
            w
            for i, w in enumerate(self.tokens)
            if i not in inside and w in content and singular(w) not in known and not w.isdigit()
        ]

    def stray(self, cards: list[dict[str, Any]]) -> bool:
        """Most of what the question talks about is unknown to every card: "the stock price of Snowflake"
        links "price" to some column by chance."""
        unknown = self.unknown(cards)
        inside = {i for m in self.mentions for i in range(m.start, m.end)}
        return len(unknown) >= 2 and len(unknown) > len(inside)

    def content_words(self) -> list[str]:
        return [w for w in self.tokens if w not in STOPWORDS and w not in KIND_WORDS and w not in CUE_WORDS]


@lru_cache(maxsize=1)
def _intent_vocabulary() -> frozenset[str]:
    return frozenset(CUE_WORDS | STOPWORDS | KIND_WORDS)


def understand(question: str, cards: list[dict[str, Any]]) -> Understood:
    vocabulary = set(_intent_vocabulary())
    for card in cards:
        vocabulary.update(words(str(card.get("name", ""))))
        vocabulary.update(w for c in card.get("columns") or [] for w in words(c["name"]))
        vocabulary.update(w for n in card.get("column_names") or [] for w in words(n))
        vocabulary.update(w for t in card.get("tags") or [] for w in words(t))
        vocabulary.update(w for a in linking.aliases(card) for w in words(a))
        vocabulary.update(w for k in sources.keys_of(card) for w in words(k))
    tokens = Speller(vocabulary).sentence(question)
    named = sources.find(tokens, cards)
    data_question = sources.without(question, tokens, named)
    inside = {i for s in named for i in range(s.start, s.end)}
    tokens = [t for i, t in enumerate(tokens) if i not in inside]
    keys = frozenset(s.key for s in named)
    things = linking.candidates(cards)
    mentions = _elided(tokens, linking.link(tokens, things, question, keys), things)
    guess = intents.model().classify(linking.masked(tokens, mentions, CUE_WORDS, question))
    return Understood(question, tokens, mentions, guess.intent, guess.score, sorted(keys), data_question)


def _elided(tokens: list[str], mentions: list[linking.Mention], things: list[linking.Thing]) -> list[linking.Mention]:
    """A bare word that shares the words after it across "vs", "or", "and" names a thing too: "expansion vs
    contraction mrr" compares expansion mrr with contraction mrr."""
    inside = {i for m in mentions for i in range(m.start, m.end)}
    for cut, word in enumerate(tokens):
        after = next((m for m in mentions if m.start == cut + 1 and m.end - m.start >= 2), None)
        if word not in _JOINING or after is None or cut == 0 or cut - 1 in inside:
            continue
        bare = tokens[cut - 1]
        if bare in STOPWORDS or bare in KIND_WORDS or bare in CUE_WORDS:
            continue
        guess = [bare, *tokens[after.start + 1 : after.end]]
        whole = [m for m in linking.link(guess, things) if m.start == 0 and m.end == len(guess)]
        if whole:
            found = linking.Mention(cut - 1, cut, whole[0].score, whole[0].things, whole[0].whole)
            return sorted([*mentions, found], key=lambda m: m.start)
    return mentions
