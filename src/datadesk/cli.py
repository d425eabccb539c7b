"""The `datadesk` command line: calls services directly, never HTTP."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from datadesk import store
from datadesk.access.caller import Caller
from datadesk.db import StoreSession, make_engine, make_sessionmaker, transaction
from datadesk.errors import DomainError, Invalid
from datadesk.identity import service as identity
from datadesk.identity.models import Role, TeamVisibility
from datadesk.identity.schemas import Email, Password, Slug
from datadesk.settings import Settings

app = typer.Typer(help="datadesk: a data catalog with a governed AI assistant.", no_args_is_help=True)
members_app = typer.Typer(help="List and change the members of a workspace.", no_args_is_help=True)
teams_app = typer.Typer(help="List and change the Teams of a workspace.", no_args_is_help=True)
tokens_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(members_app, name="members")
app.add_typer(teams_app, name="teams")
app.add_typer(tokens_app, name="tokens")
integrations_app = typer.Typer(help="List and add integrations (sources of metadata).", no_args_is_help=True)
app.add_typer(integrations_app, name="integrations")
prompts_app = typer.Typer(help="Export people's prompts; purge those past retention.", no_args_is_help=True)
app.add_typer(prompts_app, name="prompts")

out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w", help="Workspace slug.", envvar="DATADESK_WORKSPACE")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def clean_errors(func: F) -> F:
    """Turn expected failures into one line on stderr and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            fail(exc.message)
        except ValidationError as exc:
            first = exc.errors()[0]
            fail(f"{'.'.join(str(p) for p in first['loc']) or 'value'}: {first['msg']}")
        except ValueError as exc:
            fail(str(exc).splitlines()[0])
        except OSError as exc:
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        fail(str(exc.errors()[0]["msg"]).removeprefix("Value error, "))
        raise  # unreachable


@contextmanager
def open_store(*, migrate: bool = False) -> Iterator[Any]:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        if migrate:
            store.upgrade(engine)
        elif store.current_revision(engine) != store.head_revision():
            if store.current_revision(engine) is None:
                fail("The store is not initialised: run `datadesk init` first.")
            fail("The store needs migrating to this version: run `datadesk migrate` first.")
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@contextmanager
def as_operator(slug: str) -> Iterator[tuple[StoreSession, Caller]]:
    """A transaction acting as the command-line operator of one workspace."""
    with open_store() as sessions, transaction(sessions) as session:
        workspace = identity.get_workspace_by_slug(session=session, slug=slug.strip().lower())
        session.seal(workspace.id)
        yield session, Caller.operator(workspace.id)


SLUG_RULE = "--workspace: a slug is 1-63 lowercase letters, digits or dashes"
EMAIL_RULE = "--email: that is not an email address"
PASSWORD_RULE = "--password: passwords need at least 8 characters"


def _validated(annotation: Any, value: Any, rule: str) -> Any:
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError as exc:
        raise Invalid(rule + ".") from exc  # never echo the value: it may be a password


# --- init, serve, demo ------------------------------------------------------------------------


@app.command()
@clean_errors
def init(
    workspace: Annotated[str, typer.Option(help="Slug of the workspace to create.")],
    admin_email: Annotated[str, typer.Option(help="Email of its first admin.")],
    admin_password: Annotated[str, typer.Option(help="Password of its first admin (8+ characters).")],
    name: Annotated[str | None, typer.Option(help="Display name; defaults to the slug.")] = None,
) -> None:
    """Create or migrate the store, then create a workspace and its first admin."""
    slug = _validated(Slug, workspace, SLUG_RULE)
    email = _validated(Email, admin_email, EMAIL_RULE)
    password = _validated(Password, admin_password, PASSWORD_RULE)
    with open_store(migrate=True) as sessions, transaction(sessions) as session:
        created = identity.create_workspace(session=session, slug=slug, name=name or slug)
        session.seal(created.id)
        identity.add_member(
            session=session, caller=Caller.operator(created.id), email=email, role=Role.admin, password=password
        )
    out.print(f"Workspace [bold]{slug}[/bold] created; admin {email}.")


@app.command()
@clean_errors
def migrate() -> None:
    """Create or migrate the store to this version's schema."""
    with open_store(migrate=True):
        pass
    out.print(f"The store is at revision {store.head_revision()}.")


@app.command()
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


@app.command()
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


@app.command()
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
    out.print(f"\n[bold]datadesk demo[/bold] at http://{host}:{port}  (workspace [bold]{demo_setup.SLUG}[/bold])")
    for login in logins:
        out.print(
            f"  {login.email}  password [bold]{login.password}[/bold]  {login.role}; Teams: {', '.join(login.teams)}",
            highlight=False,
            soft_wrap=True,
        )
    out.print()
    if not no_serve:
        _run_server(host, port, 1)


# --- MCP --------------------------------------------------------------------------------------


@app.command("mcp")
@clean_errors
def mcp_command(
    token: Annotated[
        str,
        typer.Option(
            envvar="DATADESK_TOKEN",
            show_default=False,
            help="Your own API token (POST /auth/tokens or `datadesk tokens create`); or set DATADESK_TOKEN.",
        ),
    ],
) -> None:
    """Serve the MCP tools over stdio for a desktop AI client, as the person the token belongs to."""
    from datadesk.mcp import stdio

    settings = load_settings()
    with open_store() as sessions:
        stdio.serve(sessions, settings, token)


# --- members ----------------------------------------------------------------------------------


@members_app.command("list")
@clean_errors
def members_list(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """List members, their roles and Teams."""
    with as_operator(workspace) as (session, caller):
        rows = identity.list_members(session=session, caller=caller)
        data = [{"id": u.id, "email": u.email, "role": m.role, "team_ids": t} for m, u, t in rows]
    _print_rows(data, ["id", "email", "role"], as_json)


@members_app.command("add")
@clean_errors
def members_add(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="The person's email.")],
    role: Annotated[Role, typer.Option(help="admin, editor or viewer.")] = Role.viewer,
    password: Annotated[str | None, typer.Option(help="Password for a new account.")] = None,
) -> None:
    """Add a person to the workspace (and its Everyone team)."""
    email = _validated(Email, email, EMAIL_RULE)
    if password is not None:
        password = _validated(Password, password, PASSWORD_RULE)
    with as_operator(workspace) as (session, caller):
        _, user = identity.add_member(session=session, caller=caller, email=email, role=role, password=password)
        out.print(f"Added {user.email} as {role.value} (id {user.id}).")


@members_app.command("role")
@clean_errors
def members_role(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="The member's email.")],
    role: Annotated[Role, typer.Option(help="admin, editor or viewer.")],
) -> None:
    """Change a member's role."""
    with as_operator(workspace) as (session, caller):
        user = identity.find_member_by_email(session=session, caller=caller, email=email)
        identity.set_role(session=session, caller=caller, user_id=user.id, role=role)
        out.print(f"{user.email} is now {role.value}.")


@members_app.command("remove")
@clean_errors
def members_remove(workspace: WorkspaceOpt, email: Annotated[str, typer.Option(help="The member's email.")]) -> None:
    """Remove a member (their tokens in this workspace are revoked)."""
    with as_operator(workspace) as (session, caller):
        user = identity.find_member_by_email(session=session, caller=caller, email=email)
        identity.remove_member(session=session, caller=caller, user_id=user.id)
        out.print(f"Removed {user.email}.")


@members_app.command("password")
@clean_errors
def members_password(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="The member's email.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Set a member's password."""
    password = _validated(Password, password, PASSWORD_RULE)
    with as_operator(workspace) as (session, caller):
        user = identity.find_member_by_email(session=session, caller=caller, email=email)
        identity.set_password(session=session, caller=caller, user_id=user.id, password=password)
        out.print(f"Password set for {user.email}.")


# --- Teams ------------------------------------------------------------------------------------


@teams_app.command("list")
@clean_errors
def teams_list(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """List Teams and how many members each has."""
    with as_operator(workspace) as (session, caller):
        rows = identity.list_teams(session=session, caller=caller)
        data = [
            {"id": t.id, "name": t.name, "visibility": t.visibility, "members": len(m), "member_ids": m}
            for t, m in rows
        ]
    _print_rows(data, ["id", "name", "visibility", "members"], as_json)


@teams_app.command("create")
@clean_errors
def teams_create(
    workspace: WorkspaceOpt,
    name: Annotated[str, typer.Argument(help="Team name.")],
    private: Annotated[
        bool, typer.Option("--private", help="Listed only to its members and admins; only admins add people.")
    ] = False,
) -> None:
    """Create a Team (public unless --private)."""
    visibility = TeamVisibility.private if private else TeamVisibility.public
    with as_operator(workspace) as (session, caller):
        team = identity.create_team(session=session, caller=caller, name=name, visibility=visibility)
        out.print(f"Created {team.visibility} Team {team.name} (id {team.id}).")


@teams_app.command("delete")
@clean_errors
def teams_delete(workspace: WorkspaceOpt, name: Annotated[str, typer.Argument(help="Team name.")]) -> None:
    """Delete a Team."""
    with as_operator(workspace) as (session, caller):
        team = identity.find_team(session=session, caller=caller, name=name)
        identity.delete_team(session=session, caller=caller, team_id=team.id)
        out.print(f"Deleted Team {team.name}.")


@teams_app.command("add")
@clean_errors
def teams_add(
    workspace: WorkspaceOpt,
    team: Annotated[str, typer.Argument(help="Team name.")],
    email: Annotated[str, typer.Option(help="The member's email.")],
) -> None:
    """Put a member in a Team."""
    with as_operator(workspace) as (session, caller):
        found = identity.find_team(session=session, caller=caller, name=team)
        user = identity.find_member_by_email(session=session, caller=caller, email=email)
        identity.add_team_member(session=session, caller=caller, team_id=found.id, user_id=user.id)
        out.print(f"{user.email} is in {found.name}.")


@teams_app.command("remove")
@clean_errors
def teams_remove(
    workspace: WorkspaceOpt,
    team: Annotated[str, typer.Argument(help="Team name.")],
    email: Annotated[str, typer.Option(help="The member's email.")],
) -> None:
    """Take a member out of a Team."""
    with as_operator(workspace) as (session, caller):
        found = identity.find_team(session=session, caller=caller, name=team)
        user = identity.find_member_by_email(session=session, caller=caller, email=email)
        identity.remove_team_member(session=session, caller=caller, team_id=found.id, user_id=user.id)
        out.print(f"{user.email} left {found.name}.")


# --- tokens -----------------------------------------------------------------------------------


@contextmanager
def _as_member(workspace: str, email: str) -> Iterator[tuple[StoreSession, Caller]]:
    with as_operator(workspace) as (session, operator):
        user = identity.find_member_by_email(session=session, caller=operator, email=email)
        membership, _, team_ids = identity.get_member(session=session, caller=operator, user_id=user.id)
        yield (
            session,
            Caller(
                workspace_id=operator.workspace_id,
                user_id=user.id,
                role=membership.role,
                team_ids=frozenset(team_ids),
                email=user.email,
            ),
        )


@tokens_app.command("create")
@clean_errors
def tokens_create(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="Whose token.")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
) -> None:
    """Create an API token for a member; it is printed once."""
    with _as_member(workspace, email) as (session, caller):
        row, token = identity.create_token(session=session, caller=caller, name=name)
    err.print(f"Token {row.id} for {email}; it is shown only once:")
    print(token)


@tokens_app.command("list")
@clean_errors
def tokens_list(
    workspace: WorkspaceOpt, email: Annotated[str, typer.Option(help="Whose tokens.")], as_json: JsonOpt = False
) -> None:
    """List a member's active tokens (never their values)."""
    with _as_member(workspace, email) as (session, caller):
        rows = identity.list_tokens(session=session, caller=caller)
        data = [
            {
                "id": r.id,
                "name": r.name,
                "created_at": r.created_at.isoformat(),
                "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None,
            }
            for r in rows
        ]
    _print_rows(data, ["id", "name", "created_at", "last_used_at"], as_json)


@tokens_app.command("revoke")
@clean_errors
def tokens_revoke(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="Whose token.")],
    token_id: Annotated[str, typer.Argument(help="The token's id.")],
) -> None:
    """Revoke a token."""
    with _as_member(workspace, email) as (session, caller):
        identity.revoke_token(session=session, caller=caller, token_id=token_id)
    out.print(f"Revoked token {token_id}.")


def _print_rows(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    out.print(table)


# --- integrations and syncs -------------------------------------------------------------------


@integrations_app.command("list")
@clean_errors
def integrations_list(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """List integrations with their masked config."""
    from datadesk.catalog import integrations

    settings = load_settings()
    with as_operator(workspace) as (session, caller):
        rows = integrations.list_integrations(session=session, caller=caller)
        data = [
            {
                "id": i.id,
                "name": i.name,
                "type": i.type,
                "team_ids": t,
                "config": integrations.masked_config(settings.secret_key, i),
                "last_synced_at": i.last_synced_at.isoformat() if i.last_synced_at else None,
                "schedule": i.schedule,
                "next_sync_at": i.next_sync_at.isoformat() if i.next_sync_at else None,
            }
            for i, t in rows
        ]
    _print_rows(data, ["id", "name", "type", "last_synced_at", "schedule", "next_sync_at"], as_json)


@integrations_app.command("schedule")
@clean_errors
def integrations_schedule(
    name: Annotated[str, typer.Argument(help="Integration name.")],
    workspace: WorkspaceOpt,
    cron: Annotated[
        str | None, typer.Argument(help='5-field cron expression in UTC, e.g. "0 3 * * *"; leave out with --clear.')
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the schedule.")] = False,
) -> None:
    """Sync an integration on a schedule (workers fire it), or --clear it."""
    from datadesk.catalog import integrations

    if clear == (cron is not None):
        fail('Give a cron expression such as "0 3 * * *", or --clear.')
    settings = load_settings()
    with as_operator(workspace) as (session, caller):
        integration_id = integrations.find_integration(session=session, caller=caller, name=name).id
        updated = integrations.update_integration(
            session=session, caller=caller, settings=settings, integration_id=integration_id, schedule=cron
        )
        if updated.schedule is None:
            out.print(f"{name} syncs only when asked.")
        else:
            next_at = updated.next_sync_at.isoformat() if updated.next_sync_at else "?"
            out.print(f"{name} syncs on {updated.schedule!r} (UTC); next at {next_at}.")


@integrations_app.command("add")
@clean_errors
def integrations_add(
    workspace: WorkspaceOpt,
    name: Annotated[str, typer.Option(help="A name for the integration.")],
    type: Annotated[str, typer.Option(help="postgres, mysql, sqlite, duckdb or dbt.")],
    url: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the database.")] = None,
    manifest: Annotated[str | None, typer.Option(help="dbt manifest.json path.")] = None,
    catalog: Annotated[str | None, typer.Option(help="dbt catalog.json path.")] = None,
    run_results: Annotated[str | None, typer.Option(help="dbt run_results.json path (tests' last results).")] = None,
    team: Annotated[list[str] | None, typer.Option(help="Team that sees it (repeat for several).")] = None,
) -> None:
    """Add an integration after testing the connection."""
    from datadesk.catalog import integrations

    config = (
        {"url": url}
        if type != "dbt"
        else {"manifest_path": manifest, "catalog_path": catalog, "run_results_path": run_results}
    )
    settings = load_settings()
    with as_operator(workspace) as (session, caller):
        team_ids = [identity.find_team(session=session, caller=caller, name=t).id for t in team or []]
        created = integrations.create_integration(
            session=session,
            caller=caller,
            settings=settings,
            name=name,
            type=type,
            config={k: v for k, v in config.items() if v},
            team_ids=team_ids,
        )
        out.print(f"Added integration {created.name} (id {created.id}).")


@app.command("sync")
@clean_errors
def sync_command(
    name: Annotated[str, typer.Argument(help="Integration name.")],
    workspace: WorkspaceOpt,
) -> None:
    """Sync an integration's metadata now, with a progress bar."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from datadesk.catalog import integrations, sync

    settings = load_settings()
    with open_store() as sessions:
        with transaction(sessions) as session:
            workspace_row = identity.get_workspace_by_slug(session=session, slug=workspace.strip().lower())
            session.seal(workspace_row.id)
            caller = Caller.operator(workspace_row.id)
            integration_id = integrations.find_integration(session=session, caller=caller, name=name).id
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task(f"{name}: starting", total=None)

            def progress(done: int, total: int, what: str) -> None:
                bar.update(task, description=f"{name}: {what}", completed=done, total=total or None)

            run, started = sync.run_now(sessions, settings, caller, integration_id, progress)
    if not started:
        fail(f"A sync of {name} is already {run.status} (run {run.id}); it will run once.")
    if run.status != "succeeded":
        fail(run.error or "The sync failed.")
    stats = run.stats
    out.print(
        f"Synced {name}: {stats.get('created', 0)} created, {stats.get('updated', 0)} updated, "
        f"{stats.get('deleted', 0)} deleted, {stats.get('refreshed', 0)} refreshed, "
        f"{stats.get('unchanged', 0)} unchanged."
    )
    if stats.get("lineage_unparsed"):
        out.print(
            f"{stats['lineage_unparsed']} view or model SQL could not be read for column lineage; "
            "they keep their table lineage."
        )
    if stats.get("usage"):  # why the source's statement history could not be read (catalog.usage)
        out.print(str(stats["usage"]))


# --- prompts ----------------------------------------------------------------------------------


@prompts_app.command("export")
@clean_errors
def prompts_export(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="Whose prompts.")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export a person's prompts and answers as JSON."""
    from pathlib import Path

    from datadesk.ai import history

    with _as_member(workspace, email) as (session, caller):
        data = {"workspace": workspace, "email": email, "prompts": history.export(session=session, caller=caller)}
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if output:
        Path(output).write_text(text + "\n")
        err.print(f"Wrote {len(data['prompts'])} prompts to {output}.")
    else:
        print(text)


@prompts_app.command("purge")
@clean_errors
def prompts_purge() -> None:
    """Delete prompts older than each workspace's retention period."""
    from datadesk.ai import history

    with open_store() as sessions:
        removed = history.purge_expired(sessions)
    out.print(f"Purged {removed} prompts past retention.")
