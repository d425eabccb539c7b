"""Semantic retrieval: a question finds a table through what it means, never one the asker may not see.

Cards are embedded after a sync and after an edit, only when their text changed; without the model,
retrieval is full-text search as before.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic import command
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import func, inspect, select

from datadesk import demo, store
from datadesk.access.caller import Caller
from datadesk.ai import egress, retrieval
from datadesk.catalog import semantic
from datadesk.catalog.models import Resource, ResourceEmbedding
from datadesk.db import transaction
from datadesk.embedding import embedder
from datadesk.identity import service as identity
from datadesk.identity.models import Team, User, Workspace
from tests.catalog.helpers import add_integration, by_name, sync
from tests.world import Person, World

MODEL = embedder()
needs_model = pytest.mark.skipif(MODEL is None, reason="the embedding model is not installed")

DDL = """
CREATE TABLE film (id INTEGER PRIMARY KEY, title TEXT, release_year INTEGER);
CREATE TABLE store_branch (id INTEGER PRIMARY KEY, city TEXT, opened_on TEXT);
CREATE TABLE emp_comp (id INTEGER PRIMARY KEY, person TEXT, gross INTEGER, bonus INTEGER);
CREATE TABLE campaign (id INTEGER PRIMARY KEY, channel TEXT, budget INTEGER);
"""
DESCRIPTIONS = {
    "film": "Films in the catalogue: one row per motion picture, with its title and year of release.",
    "store_branch": "Physical shops of the chain and the city each one is in.",
    "emp_comp": "Salary and bonus paid to each employee every year.",
    "campaign": "Advertising campaigns and what they cost.",
}
MOVIES = "Which movies came out in 1999?"
WAGES = "How much are workers paid in wages?"


@dataclass
class Cinema:
    integration_id: str
    resources: dict[str, dict[str, Any]]

    def id(self, name: str) -> str:
        return self.resources[f"cinema.main.{name}"]["id"]


class Counting:
    """The real embedder, counting the texts it is given."""

    def __init__(self, real: Any) -> None:
        self.real, self.model_id, self.dimensions = real, real.model_id, real.dimensions
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        result: np.ndarray = self.real.embed(texts)
        return result


class Broken:
    model_id, dimensions = "broken", 384

    def embed(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("the model fell over")


def patch(client: TestClient, person: Person, resource_id: str, body: dict[str, Any]) -> None:
    response = client.patch(f"/api/v1/resources/{resource_id}", json=body, headers=person.headers)
    assert response.status_code == 200, response.text


def make_cinema(client: TestClient, world: World, tmp_path: Path) -> Cinema:
    path = tmp_path / "cinema.db"
    conn = sqlite3.connect(path)
    conn.executescript(DDL)
    conn.close()
    integration = add_integration(client, world.a.admin, "cinema", "sqlite", {"url": f"sqlite:///{path}"})
    assert sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
    cinema = Cinema(integration["id"], by_name(client, world.a.admin))
    for name, text in DESCRIPTIONS.items():
        patch(client, world.a.admin, cinema.id(name), {"description": text})
    # Salaries are Finance's alone: the viewer (Marketing) must never be handed them.
    patch(client, world.a.admin, cinema.id("emp_comp"), {"team_ids": [world.a.teams["Finance"]]})
    return cinema


@pytest.fixture
def cinema(client: TestClient, world: World, tmp_path: Path) -> Cinema:
    return make_cinema(client, world, tmp_path)


def ranked(app: Any, world: World, who: str, question: str) -> list[str]:
    with transaction(app.state.sessions, world.a.id) as session:
        return [t.name for t in retrieval.rank(session, world.a.caller(who), question).tables]


def stored(app: Any, workspace_id: str) -> dict[str, tuple[str, bytes]]:
    with transaction(app.state.sessions, workspace_id) as session:
        rows = session.execute(
            select(ResourceEmbedding.resource_id, ResourceEmbedding.text_sha256, ResourceEmbedding.vector)
        )
        return {rid: (digest, vector) for rid, digest, vector in rows}


@needs_model
def test_a_question_finds_a_table_by_meaning_and_not_without_semantic_ranking(
    app: Any, world: World, cinema: Cinema, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ranked(app, world, "editor", MOVIES)[0] == "film"
    with transaction(app.state.sessions, world.a.id) as session:
        policy = egress.Policy(external=True, sensitive_tags=("pii",))
        cards = retrieval.retrieve(session, world.a.caller("editor"), MOVIES, policy)
    assert cards[0]["name"] == "film"
    monkeypatch.setattr(retrieval, "embedder", lambda: None)
    assert "film" not in ranked(app, world, "editor", MOVIES)


@needs_model
@pytest.mark.parametrize("who", ["viewer", "editor"])
def test_semantic_retrieval_never_hands_a_member_a_table_of_a_team_they_are_not_in(
    app: Any, world: World, cinema: Cinema, who: str
) -> None:
    # emp_comp is the best match for the question by far: whoever may see it gets it first.
    assert ranked(app, world, "admin", WAGES)[0] == "emp_comp"
    tables = ranked(app, world, who, WAGES)
    if who == "viewer":
        assert "emp_comp" not in tables
        with transaction(app.state.sessions, world.a.id) as session:
            caller = world.a.caller(who)
            similar = retrieval._similar(session, caller, WAGES)
            policy = egress.Policy(external=True, sensitive_tags=("pii",))
            sent = str(retrieval.retrieve(session, caller, WAGES, policy))
            admins = retrieval._similar(session, world.a.caller("admin"), WAGES)
        assert cinema.id("emp_comp") in {t.id for t, _ in admins.tables}  # semantic ranking is at work
        assert cinema.id("emp_comp") not in {t.id for t, _ in similar.tables}
        assert "emp_comp" not in sent and "bonus" not in sent
    else:
        assert tables[0] == "emp_comp"


@needs_model
def test_another_workspace_never_sees_these_cards(app: Any, world: World, cinema: Cinema) -> None:
    with transaction(app.state.sessions, world.b.id) as session:
        assert retrieval.rank(session, world.b.caller("admin"), MOVIES).tables == []


@needs_model
def test_an_edit_embeds_its_card_again_and_an_unchanged_sync_embeds_nothing(
    client: TestClient, app: Any, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Counting(MODEL)
    monkeypatch.setattr(semantic, "embedder", lambda: counting)
    cinema = make_cinema(client, world, tmp_path)
    film = cinema.id("film")
    assert len(counting.texts) == 4 + len(DESCRIPTIONS)  # the sync's four tables, then each described once
    assert "film. Films in the catalogue" in counting.texts[-len(DESCRIPTIONS)]
    before = stored(app, world.a.id)
    assert {cinema.id(n) for n in DESCRIPTIONS} <= set(before)
    counting.texts.clear()
    assert sync(client, world.a.admin, cinema.integration_id)["status"] == "succeeded"
    patch(client, world.a.admin, film, {"tags": ["core"]})  # tags are not in the card
    assert counting.texts == []
    patch(client, world.a.admin, film, {"description": "Motion pictures we screen."})
    assert counting.texts == ["film. Motion pictures we screen. columns: id, title, release year"]
    after = stored(app, world.a.id)
    assert after[film] != before[film]
    assert {k: v for k, v in after.items() if k != film} == {k: v for k, v in before.items() if k != film}
    # A described column gets a card of its own; clearing its description drops it.
    column = cinema.resources["cinema.main.film.title"]["id"]
    patch(client, world.a.admin, column, {"description": "Name of the picture as released."})
    assert column in stored(app, world.a.id)
    patch(client, world.a.admin, column, {"description": ""})
    assert column not in stored(app, world.a.id)


@needs_model
def test_a_glossary_term_is_embedded_and_found_by_meaning(client: TestClient, app: Any, world: World) -> None:
    term = client.post(
        "/api/v1/resources",
        json={"type": "glossary_term", "name": "ARR", "definition": "Annual recurring revenue from subscriptions."},
        headers=world.a.editor.headers,
    )
    assert term.status_code == 201, term.text
    assert term.json()["id"] in stored(app, world.a.id)
    with transaction(app.state.sessions, world.a.id) as session:
        notes = retrieval.rank(session, world.a.caller("editor"), "yearly subscription income").notes
    assert [n.name for n in notes] == ["ARR"]


def test_without_the_model_everything_works_as_full_text_search(
    client: TestClient, app: Any, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(semantic, "embedder", lambda: None)
    monkeypatch.setattr(retrieval, "embedder", lambda: None)
    cinema = make_cinema(client, world, tmp_path)
    assert stored(app, world.a.id) == {}
    assert ranked(app, world, "editor", "film release year")[0] == "film"
    assert ranked(app, world, "editor", MOVIES) == []
    response = client.post("/api/v1/ai/ask", json={"question": "Describe film"}, headers=world.a.editor.headers)
    assert response.status_code == 200, response.text
    assert "film" in {c["name"] for c in response.json()["citations"]}
    assert cinema.id("film")


def test_a_failing_model_fails_neither_a_sync_nor_an_edit(
    client: TestClient, app: Any, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(semantic, "embedder", lambda: Broken())
    monkeypatch.setattr(retrieval, "embedder", lambda: Broken())
    cinema = make_cinema(client, world, tmp_path)  # syncs and edits, each asserting success
    assert stored(app, world.a.id) == {}
    assert ranked(app, world, "editor", "film release year")[0] == "film"
    assert cinema.id("film")


def test_the_migration_adds_and_removes_the_table(app: Any, world: World) -> None:
    config = store.alembic_config()
    try:
        with app.state.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "20261205_0012")
        assert "resource_embedding" not in inspect(app.state.engine).get_table_names()
    finally:
        store.upgrade(app.state.engine)
    assert "resource_embedding" in inspect(app.state.engine).get_table_names()
    with transaction(app.state.sessions, world.a.id) as session:
        assert session.scalar(select(func.count()).select_from(ResourceEmbedding)) == 0


@needs_model
def test_the_demo_ends_up_embedded(app: Any, settings: Any) -> None:
    demo.ensure(app.state.sessions, settings, Console(quiet=True))
    with transaction(app.state.sessions) as session:
        workspace_id = session.scalar(select(Workspace.id).where(Workspace.slug == demo.SLUG))
    assert workspace_id is not None
    with transaction(app.state.sessions, workspace_id) as session:
        embedded = dict(
            session.execute(
                select(Resource.type, func.count())
                .join(ResourceEmbedding, ResourceEmbedding.resource_id == Resource.id)
                .group_by(Resource.type)
            ).all()
        )
        live = dict(
            session.execute(
                select(Resource.type, func.count())
                .where(Resource.deleted_at.is_(None), Resource.type.in_(semantic.EMBEDDED_TYPES))
                .group_by(Resource.type)
            ).all()
        )
        fiona = session.scalar(select(User.id).where(User.email == demo.content.FIONA))
        finance = session.scalar(select(Team.id).where(Team.name == "Finance"))
        everyone = identity.everyone_team(session, workspace_id)
        caller = Caller(
            workspace_id=workspace_id, user_id=fiona, role="editor", team_ids=frozenset({finance, everyone.id})
        )
        similar = retrieval._similar(session, caller, "what is our yearly recurring revenue?")
        notes = retrieval.rank(session, caller, "what is our yearly recurring revenue?").notes
    assert {k: embedded.get(k) for k in live} == live  # every table, view, glossary term and document
    assert similar.notes[0].name == "ARR" and "ARR" in {n.name for n in notes}
