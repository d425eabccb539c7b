"""Real `datadesk` processes for tests: the installed command, a free port, a server that answers, a stop."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

DATADESK = str(Path(sys.executable).with_name("datadesk"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    process: subprocess.Popen[Any], url: str, log: Callable[[], str] | None = None, seconds: float = 60
) -> None:
    """Until `url`'s health check answers 200; fails with the server's output if it exits or never answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        exited = process.poll() is not None
        if exited or time.monotonic() > deadline:
            raise AssertionError(f"datadesk serve did not start at {url}: {_output(process, log, exited)}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[Any], seconds: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `seconds`."""
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _output(process: subprocess.Popen[Any], log: Callable[[], str] | None, exited: bool) -> str:
    if log is not None:
        return log()
    if not exited or process.stderr is None:  # reading a live process's pipe would wait for it to end
        return "no answer in time"
    text = process.stderr.read()
    return text.decode() if isinstance(text, bytes) else str(text)
