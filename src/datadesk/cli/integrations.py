"""`datadesk integrations` (list, add, schedule) and `datadesk sync`."""

from __future__ import annotations

from typing import Annotated

import typer

from datadesk.access.caller import Caller
from datadesk.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    as_operator,
    clean_errors,
    err,
    fail,
    load_settings,
    open_store,
    out,
    print_rows,
)
from datadesk.db import transaction
from datadesk.identity import service as identity

integrations_app = typer.Typer(help="List and add integrations (sources of metadata).", no_args_is_help=True)


@integrations_app.command("list")
@clean_errors
def integrations_list(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """List integrations with their masked config (--json: the records GET /integrations answers)."""
    from datadesk.catalog import integrations
    from datadesk.catalog.schemas import IntegrationOut

    settings = load_settings()
    with as_operator(workspace) as (session, caller):
        rows = integrations.list_integrations(session=session, caller=caller)
        data = [
            IntegrationOut(
                id=i.id,
                name=i.name,
                type=i.type,
                team_ids=t,
                config=integrations.masked_config(settings.secret_key, i),
                created_at=i.created_at,
                last_synced_at=i.last_synced_at,
                schedule=i.schedule,
                next_sync_at=i.next_sync_at,
            ).model_dump(mode="json")
            for i, t in rows
        ]
    print_rows(data, ["id", "name", "type", "last_synced_at", "schedule", "next_sync_at"], as_json)


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
            out.print(f"{name} syncs only when asked.", markup=False)
        else:
            next_at = updated.next_sync_at.isoformat() if updated.next_sync_at else "?"
            out.print(f"{name} syncs on {updated.schedule!r} (UTC); next at {next_at}.", markup=False)


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
        out.print(f"Added integration {created.name} (id {created.id}).", markup=False)


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
