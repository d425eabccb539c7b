"""POST /ai/ask as server-sent events: progress, the answer in pieces, then citations, SQL runs and the receipt."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.orm import sessionmaker
from starlette.responses import StreamingResponse

from datadesk.access.caller import Caller
from datadesk.ai import assistant, schemas
from datadesk.db import StoreSession, is_busy, transaction
from datadesk.errors import DomainError, InternalError, StoreBusy
from datadesk.settings import Settings

log = logging.getLogger("datadesk")
CHUNK_WORDS = 8
_DONE = object()


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _error(error: DomainError) -> dict[str, Any]:
    """An error event's data; a limit says after how many seconds asking again may pass."""
    data: dict[str, Any] = {"code": error.code, "message": error.message}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        data["retry_after"] = retry_after
    return data


def stream_answer(
    sessions: sessionmaker[StoreSession], caller: Caller, settings: Settings, body: schemas.AskIn
) -> StreamingResponse:

    def work(put: Callable[[Any], None]) -> None:
        try:
            with transaction(sessions, caller.workspace_id) as session:
                answer = assistant.ask(
                    session=session,
                    caller=caller,
                    settings=settings,
                    question=body.question,
                    conversation_id=body.conversation_id,
                    progress=lambda stage: put(("status", stage)),
                )
                shaped = schemas.answer_out(answer.prompt).model_dump(mode="json")
            # Only once committed: a client may read the prompt back as soon as it sees "done".
            put(("answer", (shaped, answer.error)))
        except DomainError as exc:
            put(("error", exc))
        except Exception as exc:  # never a stack trace to the client
            if is_busy(exc):
                put(("error", StoreBusy()))
                return
            log.exception("streamed answer failed")
            put(("error", InternalError()))
        finally:
            put(_DONE)

    async def generate() -> AsyncIterator[str]:
        # Awaited on the event loop: a stream waiting on its provider holds no request thread (see datadesk.waiting).
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Any] = asyncio.Queue()

        def put(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: the server stopped meanwhile
                loop.call_soon_threadsafe(events.put_nowait, item)

        threading.Thread(target=work, args=(put,), name="datadesk-ask", daemon=True).start()
        while True:
            item = await events.get()
            if item is _DONE:
                return
            kind, payload = item
            if kind == "status":
                yield _event("status", {"stage": payload})
            elif kind == "error":
                yield _event("error", _error(payload))
            else:
                data, error = payload
                if error is not None:
                    yield _event("error", {**_error(error), "prompt_id": data["prompt_id"]})
                    continue
                words = data["answer"].split(" ")
                for start in range(0, len(words), CHUNK_WORDS):
                    piece = " ".join(words[start : start + CHUNK_WORDS])
                    yield _event("delta", {"text": piece + (" " if start + CHUNK_WORDS < len(words) else "")})
                yield _event("citations", data["citations"])
                yield _event("sql_runs", data["sql_runs"])
                yield _event("disclosure", data["disclosure"])
                yield _event(
                    "done",
                    {
                        "prompt_id": data["prompt_id"],
                        "conversation_id": data["conversation_id"],
                        "provider": data["provider"],
                        "model": data["model"],
                    },
                )

    return StreamingResponse(
        generate(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
