"""Work that mostly waits on something outside (a provider's answer, a source's query) runs on threads of its own.

Requests run on anyio's default thread pool, kept small (DATADESK_REQUEST_THREADS): on two cores, 40 request
threads fighting for the GIL halved a server's throughput at 50 clients. A small pool must not be held by a
question waiting a minute and a half on a provider, or by SQL waiting on a source, so those run here instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

WAITING_THREADS = 64  # at once per server process; more wait for a free thread, as requests do for theirs
T = TypeVar("T")


async def run(request: Request, work: Callable[[], T]) -> T:
    """Run `work` on a thread of the waiting pool of this app (made on first use, on the app's event loop)."""
    limiter = getattr(request.app.state, "waiting_threads", None)
    if limiter is None:
        limiter = request.app.state.waiting_threads = anyio.CapacityLimiter(WAITING_THREADS)
    return await anyio.to_thread.run_sync(work, limiter=limiter)
