"""What every command shares: the consoles, opening the store, acting in a workspace, clean errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from datadesk import store
from datadesk.access.caller import Caller
from datadesk.db import StoreSession, make_engine, make_sessionmaker, transaction
from datadesk.errors import DomainError, Invalid
from datadesk.identity import service as identity
from datadesk.settings import Settings

out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

WorkspaceOpt = Annotated[str, typer.Option("--workspace", "-w", help="Workspace slug.", envvar="DATADESK_WORKSPACE")]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the whole records as a JSON array, and nothing else, for scripts.")
]


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


@contextmanager
def as_member(workspace: str, email: str) -> Iterator[tuple[StoreSession, Caller]]:
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


SLUG_RULE = "--workspace: a slug is 1-63 lowercase letters, digits or dashes"
EMAIL_RULE = "--email: that is not an email address"
PASSWORD_RULE = "--password: passwords need at least 8 characters"


def validated(annotation: Any, value: Any, rule: str) -> Any:
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError as exc:
        raise Invalid(rule + ".") from exc  # never echo the value: it may be a password


def print_rows(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    """Print whole records as JSON, or the given columns as a table that never cuts an id."""
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = Table()
    for column in columns:
        table.add_column(column, no_wrap=column == "id" or column.endswith("_id"), overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if row[c] is None else str(row[c])) for c in columns))  # no markup
    # Rich fits a table to the terminal (80 columns when stdout is not one), folding or cutting its cells: render
    # it at least as wide as its ids and longest words need, and let a narrower terminal wrap the lines instead.
    console = Console(highlight=False)  # made now, so it reads COLUMNS and the terminal of this run
    needed = Measurement.get(console, console.options.update_width(10_000), table).minimum
    if needed > console.width:
        console = Console(highlight=False, width=needed)
    console.print(table)
