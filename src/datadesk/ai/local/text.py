"""Words of a question: normalised, singular, and spelled as the catalog and the intents spell them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import fuzz, process

_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Filler that carries no meaning for linking a question to the catalog.
STOPWORDS = frozenset(
    """a an the of in on for to and or is are was were be been do does did have has had what which who whom whose
    how where when why can could would should will shall may might must i we you me us our my your it its this
    that these those there their them they please tell show give list find get about with from by as at any all
    some me know want need like just also into out up than then so if not no yes one s pls plz hey hi thanks""".split()
)
# Words that name a kind of catalog thing rather than a thing.
KIND_WORDS = frozenset(
    """table tables view views column columns field fields dataset datasets data model models source sources
    dashboard dashboards report reports glossary term terms document documents doc docs definition catalog
    database databases schema schemas record records row rows entry entries thing things""".split()
)


def words(text: str) -> list[str]:
    """Lower-case words; snake_case and camelCase split."""
    return _WORD.findall(_CAMEL.sub(" ", text).replace("_", " ").lower())


def singular(word: str) -> str:
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def key(text: str) -> str:
    """The form names are compared in: words, singular, joined by one space."""
    return " ".join(singular(w) for w in words(text))


class Speller:
    """Corrects a word to the nearest one in a vocabulary when it is clearly a misspelling of it."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.vocabulary = sorted({w for w in vocabulary if len(w) >= 3})
        self._known = set(self.vocabulary) | {singular(w) for w in self.vocabulary}

    def correct(self, word: str) -> str:
        if len(word) < 4 or word in self._known or singular(word) in self._known or word.isdigit():
            return word
        found = process.extractOne(word, self.vocabulary, scorer=fuzz.ratio, score_cutoff=80)
        if found and len(word) <= 4 and len(found[0]) < len(word):
            return word  # a short word with a letter more is more often another word ("next") than a typo ("net")
        return found[0] if found else word

    def sentence(self, text: str) -> list[str]:
        return [self.correct(w) for w in words(text)]
