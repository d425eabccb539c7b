"""A question understood: its words spelled right, the catalog things it names, and what it asks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from datadesk.ai.local import intents, linking
from datadesk.ai.local.examples import EXAMPLES
from datadesk.ai.local.text import KIND_WORDS, STOPWORDS, Speller, words

# Words that say what is asked, not about what: never part of a tag, a person or a search.
CUE_WORDS = frozenset(w for phrases in EXAMPLES.values() for p in phrases for w in words(p)) - {"x", "y", "t", "p"}
MIN_SCORE = 0.3


@dataclass
class Understood:
    question: str
    tokens: list[str]
    mentions: list[linking.Mention]
    intent: str
    score: float

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
    tokens = Speller(vocabulary).sentence(question)
    mentions = linking.link(tokens, linking.candidates(cards), question)
    guess = intents.model().classify(linking.masked(tokens, mentions))
    return Understood(question, tokens, mentions, guess.intent, guess.score)
