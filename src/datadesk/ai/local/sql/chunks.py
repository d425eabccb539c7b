"""A question cut into chunks: keywords, names of tables and columns, values and leftover words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from .schema import Schema
from .vocabulary import FILLER, KEYWORDS, stem_word


@dataclass
class Chunk:
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
class Token:
    text: str
    kind: str

    @property
    def low(self) -> str:
        return self.text.lower()


def _tokens(question: str) -> list[Token]:
    found = []
    for match in _TOKEN.finditer(question):
        kind = match.lastgroup or "punct"
        text = match.group(kind)
        if kind in ("dq", "sq"):
            kind = "lit"
        found.append(Token(text, kind))
    return found


_KW_PHRASES = {tuple(k.split()): v for k, v in KEYWORDS.items()}
_MAX_KW = max(len(k) for k in _KW_PHRASES)


def _match(tokens: list[Token], start: int, phrase: Sequence[str], *, stem: bool) -> int:
    """How many tokens from start spell the phrase ("the"/"of" may sit between its words), or 0."""
    i = start
    for n, part in enumerate(phrase):
        if n and part not in ("the", "of"):
            while i < len(tokens) and tokens[i].low in ("the", "of") and tokens[i].kind == "word":
                i += 1
        if i >= len(tokens) or tokens[i].kind != "word":
            return 0
        word = stem_word(tokens[i].text) if stem else tokens[i].low
        if word != part:
            return 0
        i += 1
    return i - start


def chunk_question(question: str, schema: Schema) -> list[Chunk]:
    tokens = _tokens(question)
    chunks: list[Chunk] = []
    i = 0
    max_name = max((len(k) for k in schema.phrases), default=1)
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "lit":
            chunks.append(Chunk("lit", token.text, token.text, token.text))
            i += 1
            continue
        if token.kind == "date":
            chunks.append(Chunk("date", token.text, token.text, date.fromisoformat(token.text)))
            i += 1
            continue
        if token.kind == "num":
            number = float(token.text) if "." in token.text else int(token.text)
            chunks.append(Chunk("num", token.text, token.text, number))
            i += 1
            continue
        if token.kind == "punct":
            key = "and" if token.text in (",", ";") else token.text
            chunks.append(Chunk("punct" if key != "and" else "kw", key, token.text))
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
            chunks.append(Chunk("kw", best_kw, text))
            i += kw_len
        elif name_len:
            text = " ".join(t.text for t in tokens[i : i + name_len])
            tables, columns = schema.phrases[name_key]
            chunks.append(Chunk("name", text.lower(), text, tables=set(tables), columns=set(columns)))
            i += name_len
        elif token.text[0].isupper() and i > 0 and low not in FILLER:
            words = [token.text]
            i += 1
            while i < len(tokens) and tokens[i].kind == "word" and tokens[i].text[0].isupper():
                words.append(tokens[i].text)
                i += 1
            chunks.append(Chunk("cap", " ".join(words), " ".join(words), " ".join(words)))
        else:
            chunks.append(Chunk("filler" if low in FILLER else "word", low, token.text))
            i += 1
    chunks = [_amount(chunk, chunks[n + 1 : n + 2], schema) for n, chunk in enumerate(chunks)]
    return _or_more(_counted_words(chunks))


_NUMBER_WORDS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten".split())}


def _counted_words(chunks: list[Chunk]) -> list[Chunk]:
    """Number words where a number is expected: "more than two", "top three", "between one and two"."""
    found: list[Chunk] = []
    for chunk in chunks:
        before = [c for c in found if c.kind != "filler"][-2:]
        expected = bool(before) and before[-1].kind == "kw" and before[-1].key.startswith(("op:", "top", "between"))
        if before and before[-1].kind == "kw" and before[-1].key in ("and", "or") and len(before) == 2:
            expected = expected or before[0].kind == "num"
        if chunk.kind == "word" and chunk.key in _NUMBER_WORDS and (expected or chunk.key not in ("one", "zero")):
            chunk = Chunk("num", chunk.key, chunk.text, _NUMBER_WORDS[chunk.key])
        found.append(chunk)
    return found


def _or_more(chunks: list[Chunk]) -> list[Chunk]:
    """ "2 or more" reads as "at least 2", "3 or fewer" as "at most 3"."""
    found: list[Chunk] = []
    for chunk in chunks:
        if chunk.kind == "kw" and chunk.key.startswith("post:") and found and found[-1].kind == "num":
            found.insert(len(found) - 1, Chunk("kw", "op:" + chunk.key[5:], chunk.text))
            continue
        found.append(chunk)
    return found


def _amount(chunk: Chunk, after: list[Chunk], schema: Schema) -> Chunk:
    """ "amount of" is filler before a column ("amount of horsepower") and the amount column before a table."""
    if chunk.kind != "kw" or chunk.key != "fill:amount":
        return chunk
    if (after and after[0].kind == "name" and after[0].columns) or ("amount",) not in schema.phrases:
        return Chunk("filler", chunk.key, chunk.text)
    tables, columns = schema.phrases[("amount",)]
    return Chunk("name", "amount", chunk.text, tables=set(tables), columns=set(columns))
