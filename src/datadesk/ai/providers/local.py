"""The local provider: offline and deterministic, it answers catalog questions from the metadata it is given.

It is a "model" like the others: it reads the same egress-built request (the fenced metadata and the
tool results) and answers with text or tool calls, so the tool loop, the audit log and the receipt
work the same way. Nothing leaves this server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from datadesk.ai.providers.base import ChatRequest, ChatResponse, Deadline, ToolCall, WireLog

MODEL = "datadesk-local-1"
NO_ANSWER = "The catalog holds no answer to that."
SENSITIVE = {"pii", "sensitive", "restricted"}
_FENCE = re.compile(r"<catalog_metadata[^>]*>\n(.*?)\n</catalog_metadata>", re.S)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class _State:
    question: str
    cards: list[dict[str, Any]]  # from the question's context and every tool result so far
    results: list[tuple[str, dict[str, Any], str]]  # (tool name, arguments, output text)
    tools: set[str]


class LocalProvider:
    name = "local"

    def complete(self, request: ChatRequest, wire: WireLog, deadline: Deadline) -> ChatResponse:
        return _answer(_state(request))


def _state(request: ChatRequest) -> _State:
    question, cards = "", []
    calls: dict[str, ToolCall] = {}
    results: list[tuple[str, dict[str, Any], str]] = []
    for message in request.messages:
        if message.role == "user":
            text = message.content
            question = text.rsplit("Question:", 1)[-1].strip() if "Question:" in text else text.strip()
            cards = _cards(text)
            calls, results = {}, []
        elif message.role == "assistant":
            calls.update({c.id: c for c in message.tool_calls})
        elif message.role == "tool" and message.tool_call_id in calls:
            call = calls[message.tool_call_id]
            results.append((call.name, call.arguments or {}, message.content))
            cards += _cards(message.content)
    return _State(question, cards, results, {t.name for t in request.tools})


def _cards(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for block in _FENCE.findall(text):
        try:
            found += [c for c in json.loads(block) if isinstance(c, dict)]
        except json.JSONDecodeError:
            continue
    return found


def _cite(card: dict[str, Any]) -> str:
    return f"{card.get('qualified_name') or card['name']} [[{card['id']}]]"


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _find(cards: list[dict[str, Any]], phrase: str, types: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The card the phrase names: exact name, then name inside the phrase, then the best word overlap."""
    wanted = _norm(re.sub(r"^(the|a|an)\s+", "", phrase.strip(), flags=re.I)).removesuffix(" table")
    pool = [c for c in cards if not types or c.get("type") in types]
    if not wanted or not pool:
        return None
    for card in pool:
        if _norm(card["name"]) == wanted or _norm(card.get("qualified_name", "")) == wanted:
            return card
    for card in pool:
        name = _norm(card["name"])
        if name and (f" {name} " in f" {wanted} " or f" {wanted} " in f" {name} "):
            return card
    words = set(wanted.split())
    scored = [(len(words & set(_norm(c["name"]).split())), -i, c) for i, c in enumerate(pool)]
    best = max(scored, key=lambda s: (s[0], s[1]))
    return best[2] if best[0] else None


def _search(query: str, type_: str | None = None) -> ChatResponse:
    args: dict[str, Any] = {"query": query}
    if type_:
        args["type"] = type_
    return ChatResponse("", [ToolCall("local-search", "search_catalog", args)])


def _searched(state: _State, query: str) -> bool:
    return any(name == "search_catalog" and args.get("query") == query for name, args, _ in state.results)


TABLES = ("table", "view")


def _answer(state: _State) -> ChatResponse:
    q = state.question.strip().rstrip("?.! ")
    patterns = (
        (r"^(?:who|which team|what team)\s+owns\s+(.+)$", _owner),
        (r"^(?:what|which)\s+(?:feeds|populates|builds)\s+(.+)$", _upstream),
        (r"^where\s+does\s+(.+?)\s+come\s+from$", _upstream),
        (r"^(?:what|which \w+)\s+(?:uses|reads|depends on|reads from)\s+(.+)$", _downstream),
        (r"^(?:which|what)\s+tables?\s+(?:are|is)\s+tagged\s+(?:as\s+|with\s+)?(.+)$", _tagged),
        (r"^(?:which|what)\s+tables?\s+(?:are|is)\s+owned\s+by\s+(.+)$", _owned_by),
        (
            r"^(?:which|what)\s+tables?\s+(?:have|has|contain|contains)\s+(?:an?\s+)?(?:column|field)s?\s+"
            r"(?:like|named|called)?\s*(.+)$",
            _column_like,
        ),
        (
            r"^(?:which|what)\s+tables?\s+(?:have|has|contain|contains)\s+(?:an?\s+)?(.+?)\s+(?:column|field)s?$",
            _column_like,
        ),
        (r"^(?:what\s+are\s+)?(?:the\s+)?most\s+(?:popular|used)\s+tables?(?:\s+(?:in|of|for)\s+(.+))?$", _popular),
        (
            r"^(?:how\s+many\s+rows\s+(?:are\s+)?(?:in|does)|count\s+(?:the\s+)?rows\s+(?:of|in)|count)\s+(.+?)"
            r"(?:\s+have)?$",
            _count,
        ),
        (r"^how\s+many\s+(.+?)\s+(?:are\s+there|do\s+we\s+have|exist)$", _count),
        (
            r"^(?:show|list|give me|display)\s+(?:me\s+)?(?:some\s+|the\s+)?(?:rows|records|data)\s+"
            r"(?:of|from|in)\s+(.+)$",
            _rows,
        ),
        (r"^(?:what\s+(?:is|are|does)|define|describe|explain|tell me about)\s+(.+?)(?:\s+mean)?$", _describe),
    )
    for pattern, handler in patterns:
        match = re.match(pattern, q, flags=re.I)
        if match:
            return handler(state, (match.group(1) or "").strip())
    return _describe(state, q)


def _owner(state: _State, phrase: str) -> ChatResponse:
    card = _find(state.cards, phrase)
    if card is None:
        return _search(phrase) if not _searched(state, phrase) else ChatResponse(NO_ANSWER)
    owners = card.get("owners") or []
    if not owners:
        return ChatResponse(f"{_cite(card)} has no owner recorded in the catalog.")
    return ChatResponse(f"{_cite(card)} is owned by {', '.join(owners)}.")


def _lineage(state: _State, phrase: str, key: str, verb: str) -> ChatResponse:
    card = _find(state.cards, phrase, (*TABLES, "dashboard"))
    if card is None:
        return _search(phrase) if not _searched(state, phrase) else ChatResponse(NO_ANSWER)
    if not any(name == "get_resource" and args.get("resource_id") == card["id"] for name, args, _ in state.results):
        return ChatResponse("", [ToolCall("local-get", "get_resource", {"resource_id": card["id"]})])
    full = next(
        (c for c in reversed(state.cards) if c["id"] == card["id"] and ("upstream" in c or "downstream" in c)), card
    )
    names = full.get(key) or []
    if not names:
        return ChatResponse(f"The catalog records nothing that {verb} {_cite(card)}.")
    known = {c.get("qualified_name"): c for c in state.cards}
    listed = [_cite(known[n]) if n in known else n for n in names]
    return ChatResponse(f"{_cite(card)}: {'fed by' if key == 'upstream' else 'used by'} " + "; ".join(listed) + ".")


def _upstream(state: _State, phrase: str) -> ChatResponse:
    return _lineage(state, phrase, "upstream", "feeds")


def _downstream(state: _State, phrase: str) -> ChatResponse:
    return _lineage(state, phrase, "downstream", "uses")


def _listed(state: _State, args: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The cards a list_resources call with these arguments returned, or None before it ran."""
    for name, called, output in state.results:
        if name == "list_resources" and called == args:
            return [c for c in _cards(output) if c.get("type") in TABLES]
    return None


def _listing(state: _State, args: dict[str, Any], empty: str, title: str, popularity: bool = False) -> ChatResponse:
    found = _listed(state, args)
    if found is None:
        return ChatResponse("", [ToolCall("local-list", "list_resources", args)])
    if not found:
        return ChatResponse(empty)
    lines = [f"- {_cite(c)}" + (f" (popularity {int(c.get('popularity', 0))})" if popularity else "") for c in found]
    return ChatResponse(title + "\n" + "\n".join(lines))


def _tagged(state: _State, phrase: str) -> ChatResponse:
    tag = _norm(phrase).replace(" ", "_")
    return _listing(state, {"tag": tag}, f"No tables you can see are tagged {tag}.", f"Tables tagged {tag}:")


def _owned_by(state: _State, phrase: str) -> ChatResponse:
    return _listing(
        state, {"owner": phrase.strip()}, f"No tables you can see are owned by {phrase}.", f"Tables owned by {phrase}:"
    )


def _column_like(state: _State, phrase: str) -> ChatResponse:
    word = _norm(phrase)
    if not _searched(state, word):
        return _search(word, "column")
    key = word.replace(" ", "_")
    columns = [c for c in state.cards if c.get("type") == "column" and key in _norm(c["name"]).replace(" ", "_")]
    columns = columns or [c for c in state.cards if c.get("type") == "column"]
    if not columns:
        return ChatResponse(f"No tables you can see have a column like {phrase}.")
    lines = [f"- {c['qualified_name'].rsplit('.', 1)[0]} has {c['name']} [[{c['id']}]]" for c in columns]
    return ChatResponse(f"Columns like {phrase}:\n" + "\n".join(lines))


def _popular(state: _State, phrase: str) -> ChatResponse:
    args: dict[str, Any] = {"type": "table", "order_by": "popularity", "limit": 10}
    if phrase:
        args["team"] = phrase.strip()
    where = f" in {phrase}" if phrase else ""
    return _listing(state, args, f"No tables{where} that you can see.", f"Most used tables{where}:", popularity=True)


def _sql_target(state: _State, phrase: str) -> tuple[dict[str, Any] | None, ChatResponse | None]:
    card = _find(state.cards, phrase, TABLES)
    if card is None:
        if not _searched(state, phrase):
            return None, _search(phrase, "table")
        return None, ChatResponse(NO_ANSWER)
    if "run_sql" not in state.tools:
        return None, ChatResponse(
            f"{_cite(card)} is in the catalog, but I cannot run SQL for you here: that needs Run SQL switched on "
            "by an admin and query access on its integration."
        )
    return card, None


def _relation(card: dict[str, Any]) -> str:
    parts = card["qualified_name"].split(".")[-2:]
    return ".".join(p if _IDENT.match(p) else '"' + p.replace('"', '""') + '"' for p in parts)


def _sql_result(state: _State) -> tuple[str, dict[str, Any]] | None:
    for name, args, output in reversed(state.results):
        if name == "run_sql":
            try:
                return args.get("sql", ""), json.loads(output)
            except json.JSONDecodeError:
                return args.get("sql", ""), {"status": "failed", "error": {"message": output}}
    return None


def _run(state: _State, card: dict[str, Any], sql: str, what: str) -> ChatResponse:
    done = _sql_result(state)
    if done is None:
        return ChatResponse(
            "", [ToolCall("local-sql", "run_sql", {"integration_id": card.get("integration_id", ""), "sql": sql})]
        )
    _, result = done
    if result.get("status") != "succeeded":
        error = result.get("error") or {}
        return ChatResponse(f"I wrote `{sql}` for {_cite(card)}, but it did not run: {error.get('message', 'refused')}")
    shown = "the result is shown below" if result.get("rows_returned") else "no rows came back"
    return ChatResponse(f"I ran `{sql}` on {_cite(card)} to {what}; {shown}.")


def _count(state: _State, phrase: str) -> ChatResponse:
    card, stop = _sql_target(state, phrase)
    if card is None:
        return stop or ChatResponse(NO_ANSWER)
    return _run(state, card, f"SELECT count(*) AS row_count FROM {_relation(card)}", "count its rows")


def _rows(state: _State, phrase: str) -> ChatResponse:
    card, stop = _sql_target(state, phrase)
    if card is None:
        return stop or ChatResponse(NO_ANSWER)
    if "columns" not in card:  # a compact card: fetch the columns and their tags first
        full = next((c for c in reversed(state.cards) if c["id"] == card["id"] and "columns" in c), None)
        if full is None:
            return ChatResponse("", [ToolCall("local-get", "get_resource", {"resource_id": card["id"]})])
        card = full
    columns = [c["name"] for c in card.get("columns", []) if not SENSITIVE & set(c.get("tags", []))]
    listed = ", ".join(c if _IDENT.match(c) else '"' + c.replace('"', '""') + '"' for c in columns) or "*"
    return _run(state, card, f"SELECT {listed} FROM {_relation(card)} LIMIT 20", "show some of its rows")


def _describe(state: _State, phrase: str) -> ChatResponse:
    card = _find(state.cards, phrase, ("glossary_term",)) or _find(state.cards, phrase)
    if card is None:
        return _search(phrase) if not _searched(state, phrase) and phrase else ChatResponse(NO_ANSWER)
    text = card.get("definition") or card.get("description")
    if not text:
        return ChatResponse(f"{_cite(card)} is in the catalog but has no description yet.")
    kind = "is defined as" if card.get("type") == "glossary_term" else "is described as"
    extra = ""
    if card.get("columns"):
        extra = f" Columns: {', '.join(c['name'] for c in card['columns'][:12])}."
    return ChatResponse(f"{_cite(card)} {kind}: {text}{extra}")
