"""The world the assistant eval asks in: the demo workspace plus Pagila, jaffle-shop and three Spider databases.

One workspace on the embedded SQLite store, built through the app's own services (demo.ensure, integrations,
sync, Teams, SQL permissions), so the assistant sees exactly what a real install would. `small=True` builds
the demo workspace only (no PostgreSQL, a few seconds): the deterministic slice the tests run.

Who sees what (admins see everything; everyone is in Everyone):

| source                         | integration Teams        | query access               |
|--------------------------------|--------------------------|----------------------------|
| demo finance / marketing / product schemas | Finance / Marketing / Engineering | Finance, admins |
| demo analytics schema, dbt project | Everyone              | Finance, admins            |
| pagila (PostgreSQL)            | Engineering, Finance     | Engineering, Finance, admins |
| jaffle_shop (DuckDB + dbt)     | Marketing, Engineering   | Marketing, Engineering, admins |
| spider concert_singer (SQLite) | Everyone                 | Everyone                   |
| spider dog_kennels (SQLite)    | Marketing                | Marketing, admins          |
| spider world_1 (SQLite)        | Finance, Engineering     | Finance, Engineering, admins |

Askers: admin (admin, every Team), fiona (editor, Finance), mark (viewer, Marketing), erin (viewer, Engineering).
The added sources get a little documentation of their own (DOCS below: owners, tags, descriptions), so owner,
tag and description questions have answers outside the demo too, and `deprecated`, `pii` and `gold` span Teams.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from datadesk import demo, store
from datadesk.access.caller import Caller
from datadesk.access.visibility import visible_resources
from datadesk.ai import settings as ai_settings
from datadesk.catalog import integrations, permissions, service, sync
from datadesk.catalog.models import Resource
from datadesk.db import StoreSession, make_engine, make_sessionmaker, transaction
from datadesk.demo_data import content
from datadesk.identity import service as identity
from datadesk.identity.models import Membership, Role, Team, TeamMember, User, Workspace
from datadesk.settings import Settings

SECRET = "assistant-eval-secret-key-0123456789abcdef"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
ERIN = "erin@demo.datadesk.dev"
ASKERS = {"admin": content.ADMIN, "fiona": content.FIONA, "mark": content.MARK, "erin": ERIN}
SPIDER = {"concert_singer": ("Everyone",), "dog_kennels": ("Marketing",), "world_1": ("Finance", "Engineering")}

Owner = tuple[str, str]  # ("user", email) or ("team", name)


@dataclass(frozen=True)
class Doc:
    owners: tuple[Owner, ...] = ()
    tags: tuple[str, ...] = ()
    description: str = ""


# Documentation added to the extra sources, by integration name and table (or table.column) name.
DOCS: dict[str, dict[str, Doc]] = {
    "pagila": {
        "film": Doc(
            (("team", "Engineering"),),
            ("core",),
            "Every film in the DVD rental catalog, one row per title, with its rating, rental rate, rental "
            "duration, length and replacement cost.",
        ),
        "rental": Doc(
            (("user", ERIN), ("team", "Engineering")),
            ("core",),
            "One row per rental of an inventory copy to a customer; return_date stays null while the DVD is out.",
        ),
        "payment": Doc(
            (("user", content.FIONA), ("team", "Finance")),
            ("finance",),
            "Rental payments collected by staff, partitioned by month into payment_p2022_01 to payment_p2022_07.",
        ),
        "customer": Doc(
            (("team", "Finance"),),
            ("pii",),
            "Customers of the rental stores with their home store, address and email. Contains PII.",
        ),
        "customer.email": Doc(tags=("pii",)),
        "staff": Doc((("team", "Engineering"),), ("pii",), "Store employees with their login and address."),
        "store": Doc(description="The rental stores, each with its manager (a staff member) and its address."),
        "nicer_but_slower_film_list": Doc(
            tags=("deprecated",),
            description="Slower copy of film_list with nicer actor names; kept for old reports, use film_list.",
        ),
    },
    "jaffle_shop warehouse": {
        "customers": Doc((("user", content.MARK), ("team", "Marketing")), ("gold",)),
        "orders": Doc((("team", "Marketing"),), ("gold",)),
        "raw_customers": Doc(tags=("pii",)),
    },
    "dog_kennels": {
        "Dogs": Doc(
            (("user", content.MARK),),
            (),
            "Dogs staying at the kennel: breed, size, owner, and when each arrived, was adopted and departed.",
        ),
        "Owners": Doc(tags=("pii",)),
    },
}


@dataclass(frozen=True)
class Source:
    """An integration added on top of the demo, with the Teams that see it and the Teams that may query it."""

    name: str
    type: str
    teams: tuple[str, ...]
    query: tuple[str, ...]


@dataclass
class EvalWorld:
    sessions: sessionmaker[StoreSession] = field(repr=False)
    settings: Settings = field(repr=False)
    workspace_id: str
    callers: dict[str, Caller]
    small: bool
    sources: list[Source] = field(default_factory=list)
    visible: dict[str, set[str]] = field(default_factory=dict, repr=False)  # asker -> ids of the resources they see
    hidden: dict[str, list[str]] = field(default_factory=dict, repr=False)  # asker -> markers of unseen things
    corpus: dict[str, str] = field(default_factory=dict, repr=False)  # asker -> all they may read, lower case

    def session(self) -> StoreSession:
        """A session sealed to the eval workspace; the caller commits and closes it."""
        session = self.sessions()
        session.seal(self.workspace_id)
        return session


@contextmanager
def build(data: Path = DATA, *, small: bool = False, progress: Console | None = None) -> Iterator[EvalWorld]:
    """Build the world in a temporary folder (and a throwaway PostgreSQL database); remove both afterwards."""
    console = progress or Console(quiet=True)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dd_eval_")))
        sources_dir = tmp / "sources"
        sources_dir.mkdir()
        settings = Settings(
            home=tmp / "home",
            database_url=f"sqlite:///{tmp / 'store.db'}",
            secret_key=SECRET,
            sources_dir=str(sources_dir),
        )
        engine = make_engine(settings.database_url)
        stack.callback(engine.dispose)
        store.upgrade(engine)
        sessions = make_sessionmaker(engine)
        demo.ensure(sessions, settings, console)
        with transaction(sessions) as session:
            workspace_id = session.scalars(select(Workspace.id).where(Workspace.slug == demo.SLUG)).one()
        _add_erin(sessions, workspace_id)
        _no_question_limit(sessions, settings, workspace_id)
        world = EvalWorld(sessions, settings, workspace_id, {}, small)
        if not small:
            pg_url = stack.enter_context(_pagila(data, console))
            world.sources = _add_sources(sessions, settings, workspace_id, data, sources_dir, pg_url, console)
        world.callers = _callers(sessions, workspace_id)
        world.visible, world.hidden, world.corpus = _visibility(sessions, workspace_id, world.callers)
        yield world


def _operator(session: StoreSession, workspace_id: str) -> Caller:
    session.seal(workspace_id)
    return Caller.operator(workspace_id, frozenset(session.scalars(select(Team.id))))


def _add_erin(sessions: sessionmaker[StoreSession], workspace_id: str) -> None:
    """An Engineering viewer, so the product schema, Pagila and jaffle-shop have a non-admin asker."""
    with transaction(sessions, workspace_id) as session:
        operator = _operator(session, workspace_id)
        _, user = identity.add_member(
            session=session, caller=operator, email=ERIN, role=Role.viewer, password="eval-erin-pass"
        )
        engineering = session.scalars(select(Team.id).where(Team.name == "Engineering")).one()
        identity.add_team_member(session=session, caller=operator, team_id=engineering, user_id=user.id)


def _no_question_limit(sessions: sessionmaker[StoreSession], settings: Settings, workspace_id: str) -> None:
    with transaction(sessions, workspace_id) as session:
        ai_settings.update(
            session=session,
            caller=_operator(session, workspace_id),
            secret_key=settings.secret_key,
            changes={"questions_per_minute": 0},
        )


def _callers(sessions: sessionmaker[StoreSession], workspace_id: str) -> dict[str, Caller]:
    """Each asker as the API would see them after login (role and Teams from the store)."""
    callers = {}
    with transaction(sessions, workspace_id) as session:
        for key, email in ASKERS.items():
            user = session.scalars(select(User).where(User.email == email).execution_options(all_workspaces=True)).one()
            role = session.scalars(select(Membership.role).where(Membership.user_id == user.id)).one()
            teams = frozenset(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user.id)))
            callers[key] = Caller(workspace_id=workspace_id, user_id=user.id, role=role, team_ids=teams, email=email)
    return callers


def _visibility(
    sessions: sessionmaker[StoreSession], workspace_id: str, callers: dict[str, Caller]
) -> tuple[dict[str, set[str]], dict[str, list[str]], dict[str, str]]:
    """What each asker sees (by the policy itself), the markers of what they do not, and what they could know.

    An answer showing a marker shows another Team's thing. The markers of a hidden table, view, dashboard,
    term or document are its qualified name, its schema.name, "name (type in parent)" and the start of its
    description or definition. The corpus is everything the asker may read (names, descriptions, definitions
    of visible resources and their columns, members and Teams); a marker found in it proves nothing and is
    dropped (finance.mrr_snapshots is named in the ARR definition everyone reads).
    """
    kinds = ("table", "view", "dashboard", "glossary_term", "document")
    visible, hidden, corpus = {}, {}, {}
    with transaction(sessions, workspace_id) as session:
        live = list(session.scalars(select(Resource).where(Resource.deleted_at.is_(None))))
        people = [u.email for _, u, _ in identity.list_members(session=session, caller=Caller.operator(workspace_id))]
        teams = list(session.scalars(select(Team.name)))
        for key, caller in callers.items():
            seen = set(session.scalars(select(Resource.id).where(visible_resources(caller))))
            words = [*people, *teams]
            for r in live:
                if r.id in seen:
                    words += [r.name, r.qualified_name, r.description or "", r.definition or ""]
            known = "\n".join(words).lower()
            markers = set()
            for r in live:
                if r.id in seen or r.type not in kinds:
                    continue
                parts = r.qualified_name.split(".")
                markers |= {r.qualified_name, f"{r.name} ({r.type.replace('_', ' ')} in {'.'.join(parts[:-1])})"}
                if len(parts) >= 3:
                    markers.add(".".join(parts[-2:]))
                text = (r.description or r.definition or "").strip()
                if len(text) >= 24:
                    markers.add(text[:60].rsplit(" ", 1)[0] if len(text) > 60 else text)
            visible[key] = seen
            hidden[key] = sorted(m for m in markers if m.lower() not in known)
            corpus[key] = known
    return visible, hidden, corpus


@contextmanager
def _pagila(data: Path, console: Console) -> Iterator[str]:
    """A fresh PostgreSQL database holding Pagila (schema and data, loaded with psql); dropped afterwards."""
    # Named after what it holds, as a real install would name it; the suffix keeps parallel runs apart.
    name = f"pagila_{uuid.uuid4().hex[:10]}"
    psql = ["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-q", "-v", "ON_ERROR_STOP=1"]
    subprocess.run([*psql, "-d", "postgres", "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    try:
        console.print(f"Loading Pagila into {name}...")
        for part in ("pagila-schema.sql", "pagila-data.sql"):
            subprocess.run(
                [*psql, "-d", name, "-f", str(data / "pagila" / part)], check=True, capture_output=True, text=True
            )
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        subprocess.run([*psql, "-d", "postgres", "-c", drop], check=False, capture_output=True)


def _add_sources(
    sessions: sessionmaker[StoreSession],
    settings: Settings,
    workspace_id: str,
    data: Path,
    sources_dir: Path,
    pg_url: str,
    console: Console,
) -> list[Source]:
    jaffle = sources_dir / "jaffle"
    jaffle.mkdir()
    artifacts = data / "dbt" / "jaffle-shop-artifacts"
    for name in ("jaffle.duckdb", "manifest.json", "catalog.json"):
        shutil.copyfile(artifacts / name, jaffle / name)
    spider = sources_dir / "spider"
    spider.mkdir()
    plan: list[tuple[Source, dict[str, str]]] = [
        (Source("pagila", "postgres", ("Engineering", "Finance"), ("Engineering", "Finance")), {"url": pg_url}),
        (
            Source("jaffle_shop warehouse", "duckdb", ("Marketing", "Engineering"), ("Marketing", "Engineering")),
            {"url": f"duckdb:///{jaffle / 'jaffle.duckdb'}"},
        ),
        (
            Source("jaffle_shop (dbt)", "dbt", ("Marketing", "Engineering"), ()),
            {"manifest_path": str(jaffle / "manifest.json"), "catalog_path": str(jaffle / "catalog.json")},
        ),
    ]
    for db, teams in SPIDER.items():
        path = spider / f"{db}.sqlite"
        shutil.copyfile(data / "spider_dev" / "sqlite_rebuilt" / db / f"{db}.sqlite", path)
        plan.append((Source(db, "sqlite", teams, teams), {"url": f"sqlite:///{path}"}))
    created: list[tuple[Source, str]] = []
    with transaction(sessions, workspace_id) as session:
        operator = _operator(session, workspace_id)
        team_ids = {t.name: t.id for t in session.scalars(select(Team))}
        for source, config in plan:
            teams = [team_ids[t] for t in source.teams if t != "Everyone"]
            integration = integrations.create_integration(
                session=session,
                caller=operator,
                settings=settings,
                name=source.name,
                type=source.type,
                config=config,
                team_ids=teams,
            )
            created.append((source, integration.id))
    for source, integration_id in created:
        console.print(f"Syncing {source.name}...")
        run, _ = sync.run_now(sessions, settings, operator, integration_id)
        if run.status != "succeeded":
            raise RuntimeError(f"{source.name} did not sync: {run.error}")
    with transaction(sessions, workspace_id) as session:
        operator = _operator(session, workspace_id)
        for source, integration_id in created:
            if source.type == "dbt":
                continue
            grants = [f"team:{team_ids[t]}" for t in source.query] + ["role:admin"]
            permissions.replace(
                session=session,
                caller=operator,
                integration_id=integration_id,
                grants={"query_access": grants, "sensitive_access": ["role:admin"]},
            )
        _document(session, operator, dict((s.name, i) for s, i in created))
    return [source for source, _ in created]


def _document(session: StoreSession, operator: Caller, integration_ids: dict[str, str]) -> None:
    """Owners, tags and descriptions of DOCS, through the same service the pages and the API call."""
    teams = {t.name: t.id for t in session.scalars(select(Team))}
    members = {u.email: u.id for _, u, _ in identity.list_members(session=session, caller=operator)}
    for integration, docs in DOCS.items():
        rows = session.scalars(
            select(Resource).where(
                Resource.integration_id == integration_ids[integration], Resource.deleted_at.is_(None)
            )
        )
        # qualified names end in [schema.]table[.column]; the database part (random for Pagila) is left out
        by_name = {".".join(r.qualified_name.split(".")[2:]): r for r in rows}
        for name, doc in docs.items():
            owners = [(k, members[v] if k == "user" else teams[v]) for k, v in doc.owners]
            changes = service.Changes(
                owners=owners or None, tags=list(doc.tags) or None, description=doc.description or None
            )
            service.update(session=session, caller=operator, resource_id=by_name[name].id, changes=changes)
