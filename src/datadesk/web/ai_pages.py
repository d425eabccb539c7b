"""The AI page: ask (streamed, or a plain form post without JavaScript), answers with their receipts, history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response, StreamingResponse

from datadesk import waiting
from datadesk.access.caller import Caller
from datadesk.ai import assistant, history, schemas, streaming
from datadesk.ai import settings as ai_settings
from datadesk.ai.models import Prompt
from datadesk.catalog import integrations, service
from datadesk.db import StoreSession, transaction
from datadesk.deps import SessionDep, SettingsDep
from datadesk.errors import DomainError
from datadesk.settings import Settings
from datadesk.sql import settings as sql_settings
from datadesk.web.render import fragment, is_htmx, receipt, render, see_other
from datadesk.web.session import PageCaller

router = APIRouter()

STAGES = {
    "retrieving": "Looking through the catalog…",
    "asking": "Thinking…",
    "searching": "Searching the catalog…",
    "running_sql": "Running SQL…",
}
HISTORY_SIZE = 100


@dataclass
class PromptView:
    """One prompt as the page shows it: the answer, its citations, SQL runs and receipt."""

    prompt: Prompt
    receipt: str
    disclosed: list[Any] = field(default_factory=list)  # the resources the receipt counts, where visible
    integration_names: dict[str, str] = field(default_factory=dict)


def _view(session: StoreSession, caller: Caller, prompt: Prompt) -> PromptView:
    disclosure = prompt.disclosure or {}
    disclosed = service.visible_many(session, caller, list(disclosure.get("resource_ids") or []))
    names = {}
    if prompt.sql_runs:
        names = {i.id: i.name for i, _ in integrations.list_integrations(session=session, caller=caller)}
    return PromptView(prompt, receipt(disclosure), disclosed, names)


def _page(
    request: Request,
    session: StoreSession,
    caller: Caller,
    *,
    current: PromptView | None = None,
    error: str = "",
    question: str = "",
    status: int = 200,
) -> Response:
    settings = ai_settings.read(session=session, caller=caller)
    run_sql_enabled = sql_settings.read(session=session, caller=caller).run_sql_enabled
    examples = ["Which tables are tagged pii?", "What are the most popular tables?"]
    if current is None:
        top, _ = service.list_resources(session=session, caller=caller, type="table", order_by="popularity", limit=1)
        if top:
            name = top[0].resource.name
            examples += [
                f"Who owns {name}?",
                f"How many rows in {name}?" if run_sql_enabled else f"Describe {name}",
            ]
    context = {
        "examples": examples,
        "current": current,
        "prompts": history.list_prompts(session=session, caller=caller, limit=HISTORY_SIZE),
        "ai": settings,
        "run_sql_enabled": run_sql_enabled,
        "where": ai_settings.destination(settings),
        "error": error,
        "question": question,
    }
    return render(request, "ai/page.html", context, status=status)


@router.get("/ai")
def ai_page(request: Request, session: SessionDep, caller: PageCaller, q: str = "") -> Response:
    return _page(request, session, caller, question=q[:4000])


@router.get("/ai/prompts/export")
def export(session: SessionDep, caller: PageCaller) -> Response:
    return JSONResponse(
        {"prompts": history.export(session=session, caller=caller)},
        headers={"Content-Disposition": 'attachment; filename="datadesk-prompts.json"'},
    )


@router.get("/ai/prompts/{prompt_id}")
def prompt_page(request: Request, prompt_id: str, session: SessionDep, caller: PageCaller) -> Response:
    prompt = history.get_prompt(session=session, caller=caller, prompt_id=prompt_id)
    return _page(request, session, caller, current=_view(session, caller, prompt))


@router.get("/ai/history")
def history_panel(request: Request, session: SessionDep, caller: PageCaller, current: str = "") -> Response:
    prompts = history.list_prompts(session=session, caller=caller, limit=HISTORY_SIZE)
    return render(request, "ai/_history.html", {"prompts": prompts, "current_id": current})


@router.post("/ai/ask")
async def ask(
    request: Request,
    session: SessionDep,
    caller: PageCaller,
    settings: SettingsDep,
    question: Annotated[str, Form(max_length=4000)] = "",
    conversation_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        body = schemas.AskIn(question=question, conversation_id=conversation_id or None)
    except ValidationError:
        return await run_in_threadpool(
            partial(_page, request, session, caller, error="Type a question first.", status=400)
        )
    if "text/event-stream" in request.headers.get("accept", ""):
        source = streaming.stream_answer(request.app.state.sessions, caller, settings, body)
        return StreamingResponse(
            _as_html(request, caller, source.body_iterator),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    return await waiting.run(request, partial(_answer_page, request, session, caller, settings, body))


def _answer_page(
    request: Request, session: StoreSession, caller: Caller, settings: Settings, body: schemas.AskIn
) -> Response:
    try:
        answer = assistant.ask(
            session=session,
            caller=caller,
            settings=settings,
            question=body.question,
            conversation_id=body.conversation_id,
        )
    except DomainError as exc:  # refused before anything was saved (switched off, rate limit, ...)
        return _page(request, session, caller, error=exc.message, question=body.question, status=exc.status)
    return see_other(request, f"/ai/prompts/{answer.prompt.id}")


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _parse(raw: str) -> tuple[str, Any]:
    name, data = "message", ""
    for line in raw.splitlines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
    return name, json.loads(data) if data else None


async def _as_html(
    request: Request, caller: Caller, source: AsyncIterable[str | bytes | memoryview]
) -> AsyncIterator[str]:
    """The API's answer events, re-told for the page: progress, text as it comes, then the rendered answer."""
    buffer = ""
    prompt_id = ""
    error = ""
    async for chunk in source:
        buffer += chunk if isinstance(chunk, str) else bytes(chunk).decode()
        while "\n\n" in buffer:
            raw, buffer = buffer.split("\n\n", 1)
            name, data = _parse(raw)
            if name == "status":
                yield _event("status", {"text": STAGES.get(data.get("stage"), "Working…")})
            elif name == "delta":
                yield _event("delta", {"text": data.get("text", "")})
            elif name == "done" or (name == "error" and data.get("prompt_id")):
                prompt_id = data["prompt_id"]
            elif name == "error":
                error = data.get("message", "")
    # The source ends once the answer's transaction has ended, so the saved prompt can be read back now.
    if prompt_id:
        html, conversation_id = await run_in_threadpool(_answer_html, request, caller, prompt_id)
        final = {"html": html, "url": f"/ai/prompts/{prompt_id}", "prompt_id": prompt_id}
        yield _event("final", {**final, "conversation_id": conversation_id})
    elif error:
        yield _event("final", {"html": fragment(request, "ai/_error.html", {"message": error}), "url": ""})


def _answer_html(request: Request, caller: Caller, prompt_id: str) -> tuple[str, str]:
    """The saved prompt rendered as the page shows it, and its conversation."""
    with transaction(request.app.state.sessions, caller.workspace_id) as session:
        prompt = history.get_prompt(session=session, caller=caller, prompt_id=prompt_id)
        html = fragment(request, "ai/_answer.html", {"p": _view(session, caller, prompt)})
        return html, prompt.conversation_id


def _history_or_back(request: Request, session: StoreSession, caller: Caller, current: str, deleted: str) -> Response:
    """htmx: the refreshed panel, unless the open prompt was the one deleted; else back to the page."""
    if current == deleted:
        return see_other(request, "/ai")
    if is_htmx(request):
        prompts = history.list_prompts(session=session, caller=caller, limit=HISTORY_SIZE)
        return render(request, "ai/_history.html", {"prompts": prompts, "current_id": current})
    return see_other(request, f"/ai/prompts/{current}" if current else "/ai")


@router.post("/ai/prompts/{prompt_id}/delete")
def delete_prompt(
    request: Request,
    prompt_id: str,
    session: SessionDep,
    caller: PageCaller,
    current: Annotated[str, Form(max_length=64, pattern=r"^[A-Za-z0-9]*$")] = "",
) -> Response:
    history.delete_prompt(session=session, caller=caller, prompt_id=prompt_id)
    return _history_or_back(request, session, caller, current, prompt_id)


@router.post("/ai/prompts/delete-all")
def delete_all(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    history.delete_all(session=session, caller=caller)
    return see_other(request, "/ai")
