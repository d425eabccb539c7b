"""Running datadesk: `serve` (the API and web app), `worker` (jobs) and `demo`."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.markup import escape

from datadesk.cli.common import clean_errors, load_settings, open_store, out


@clean_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker", help="Serve only: run no jobs (syncs, schedules) here; `datadesk worker` processes run them."
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated addresses or networks of the TLS proxies trusted to set X-Forwarded-Proto and "
            "X-Forwarded-For; * trusts any client. Default: DATADESK_FORWARDED_ALLOW_IPS (127.0.0.1).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the API and the web app; unless --no-worker, also run jobs (syncs, schedules) in this process."""
    with open_store(migrate=True):
        pass
    if no_worker:
        os.environ["DATADESK_RUN_JOBS"] = "false"  # read by each server process's settings
    _run_server(host, port, workers, forwarded_allow_ips)


@clean_errors
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Syncs run at once.")] = 2,
) -> None:
    """Run jobs: syncs asked for by any server, schedules, the prompt purge; stops on SIGINT or SIGTERM."""
    from datadesk.catalog.sync import this_worker
    from datadesk.jobs import worker as jobs_worker

    with open_store(migrate=True) as sessions:
        settings = load_settings()
        out.print(f"datadesk worker {this_worker()} runs jobs, {concurrency} at once; Ctrl+C stops it.")
        jobs_worker.run(sessions, settings, concurrency=concurrency)


# On SIGTERM the server stops accepting, gives open requests this long, then stops its syncs (catalog.workers).
REQUESTS_GRACE_SECONDS = 3


def server_options(host: str, port: int, workers: int, forwarded_allow_ips: str | None = None) -> dict[str, Any]:
    """How `serve` and `demo` run uvicorn (keyword arguments of uvicorn.run and uvicorn.Config)."""
    # Only the proxies named here may say the request came over https (so the session cookie is Secure).
    trusted = forwarded_allow_ips if forwarded_allow_ips is not None else load_settings().forwarded_allow_ips
    return {
        "app": "datadesk.app:create_app_from_env",
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": "info",
        "proxy_headers": True,
        "forwarded_allow_ips": trusted,
        "timeout_graceful_shutdown": REQUESTS_GRACE_SECONDS,
    }


def _run_server(host: str, port: int, workers: int, forwarded_allow_ips: str | None = None) -> None:
    import uvicorn

    uvicorn.run(**server_options(host, port, workers, forwarded_allow_ips))


@clean_errors
def demo(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set up the demo and exit.")] = False,
) -> None:
    """Set up the demo workspace on the embedded store, print the logins and serve."""
    from datadesk import demo as demo_setup

    with open_store(migrate=True) as sessions:
        logins = demo_setup.ensure(sessions, load_settings(), progress=out)
    listening = "  (listening on every interface)" if host in demo_setup.WILDCARDS else ""
    out.print(
        f"\n[bold]datadesk demo[/bold]: log in at {escape(demo_setup.login_url(host, port))}{listening}",
        highlight=False,
        soft_wrap=True,  # never break the link
    )
    for login in logins:
        out.print(
            f"  {login.email}  password [bold]{login.password}[/bold]  {login.role}; Teams: {', '.join(login.teams)}",
            highlight=False,
            soft_wrap=True,
        )
    out.print()
    if not no_serve:
        _run_server(host, port, 1)
