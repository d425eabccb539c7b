"""What the local provider has been told so far, and the steps every handler shares: reading the request,
asking for tools, fetching cards, searching once, and saying what is closest when nothing is named."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from datadesk.ai.local import render
from datadesk.ai.local.linking import Thing
from datadesk.ai.local.ranking import same_word
from datadesk.ai.local.text import words
from datadesk.ai.local.understand import Understood
from datadesk.ai.providers.base import ChatRequest, ChatResponse, ToolCall

NO_ANSWER = "The catalog holds no answer to that."
TABLES = ("table", "view")
STRAY_SCORE = 0.5  # below it, a question mostly about unknown things is not taken as about what it links
_FENCE = re.compile(r"<catalog_metadata[^>]*>\n(.*?)\n</catalog_metadata>", re.S)


@dataclass
class State:
    question: str
    cards: list[dict[str, Any]]  # from the question's context and every tool result so far
    results: list[tuple[str, dict[str, Any], str]]  # (tool name, arguments, output text)
    tools: set[str]

    def ran(self, name: str, args: dict[str, Any]) -> str | None:
        """The output of a tool call already made with these arguments."""
        return next((out for n, a, out in self.results if n == name and a == args), None)

    def full(self, card: dict[str, Any]) -> dict[str, Any] | None:
        """The card as get_resource returned it (all columns, lineage), once fetched."""
        for name, args, output in reversed(self.results):
            if name == "get_resource" and args.get("resource_id") == card["id"]:
                return next((c for c in cards_in(output) if c["id"] == card["id"]), dict(card))
        return None


def read_state(request: ChatRequest) -> State:
    question, cards = "", []
    calls: dict[str, ToolCall] = {}
    results: list[tuple[str, dict[str, Any], str]] = []
    for message in request.messages:
        if message.role == "user":
            text = message.content
            question = text.rsplit("Question:", 1)[-1].strip() if "Question:" in text else text.strip()
            cards = cards_in(text)
            calls, results = {}, []
        elif message.role == "assistant":
            calls.update({c.id: c for c in message.tool_calls})
        elif message.role == "tool" and message.tool_call_id in calls:
            call = calls[message.tool_call_id]
            results.append((call.name, call.arguments or {}, message.content))
            cards += cards_in(message.content)
    return State(question, cards, results, {t.name for t in request.tools})


def cards_in(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for block in _FENCE.findall(text):
        try:
            found += [c for c in json.loads(block) if isinstance(c, dict) and "id" in c and "name" in c]
        except json.JSONDecodeError:
            continue
    return found


def call(name: str, args: dict[str, Any], n: int = 0) -> ToolCall:
    return ToolCall(f"local-{name}-{n}", name, args)


def ask(*calls: ToolCall) -> ChatResponse:
    return ChatResponse("", list(calls))


def search_more(state: State, u: Understood, type_: str | None = None) -> ChatResponse | None:
    """One search with the question's content words, when it has not been made yet."""
    query = " ".join(u.content_words()) or u.question
    args: dict[str, Any] = {"query": query[:200]}
    if type_:
        args["type"] = type_
    if any(n == "search_catalog" for n, _, _ in state.results) or not query.strip():
        return None
    return ask(call("search_catalog", args))


def subject(state: State, u: Understood, *types: str) -> tuple[Thing | None, ChatResponse | None]:
    """The thing the question is about, searching the catalog once when the context does not name it."""
    found = u.things(*types)
    if found and u.score < STRAY_SCORE and u.stray(state.cards):
        found = []
    if found and u.unknown(state.cards):  # "the pagila customer table": a word no card knows may name the place
        more = search_more(state, u)
        if more is not None:
            return None, more
    if found and u.sources and not set(u.sources) & found[0].sources:
        more = search_more(state, u)  # "the pagila customer table": look in that source before a namesake
        if more is not None:
            return None, more
    if found:
        return found[0], None
    return None, search_more(state, u) or (None if types else glossary(state)) or closest(state, u)


GLOSSARY = {"type": "glossary_term", "limit": 25}


def glossary(state: State) -> ChatResponse | None:
    """The glossary, once, when search found nothing named: a term may go by an acronym or by the name its
    definition gives it ("stickiness"), which full-text search does not always reach."""
    return None if listed(state, GLOSSARY) is not None else ask(call("list_resources", dict(GLOSSARY)))


def closest(state: State, u: Understood) -> ChatResponse:
    """Nothing is named: what the catalog search found for the question's words, if anything."""
    hits = [c for n, _, out in state.results if n == "search_catalog" for c in cards_in(out)]
    asked = [w for w in u.content_words() if len(w) >= 3]
    hits = [
        c
        for c in hits
        if c.get("type") not in ("column", "database", "schema") and _shares_a_word(asked, str(c["name"]))
    ]
    hits = list({c["id"]: c for c in hits}.values())[:3]
    if not hits:
        return ChatResponse(NO_ANSWER)
    return ChatResponse(
        f'Nothing in the catalog you can see is named "{" ".join(u.content_words())}". The closest matches:\n'
        + render.bullets([render.name(c) for c in hits])
    )


def _shares_a_word(asked: list[str], name: str) -> bool:
    """A search hit is offered as "closest" only when its name carries one of the question's words."""
    return any(same_word(a, w) for a in asked for w in words(name))


def fetch(state: State, *cards: dict[str, Any]) -> ChatResponse | None:
    """get_resource for cards not yet fetched in full (one step, several calls)."""
    missing = [c for c in dict((c["id"], c) for c in cards).values() if state.full(c) is None]
    if not missing:
        return None
    return ask(*(call("get_resource", {"resource_id": c["id"]}, i) for i, c in enumerate(missing)))


def listed(state: State, args: dict[str, Any]) -> list[dict[str, Any]] | None:
    out = state.ran("list_resources", args)
    return None if out is None else cards_in(out)
