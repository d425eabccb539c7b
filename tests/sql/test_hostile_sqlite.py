"""The attacker's suite on SQLite: every statement in hostile/sqlite.txt refused or harmless through POST /sql."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sql.hostile_worlds import (
    Attack,
    HostileWorld,
    check,
    check_sanity,
    hostile_app,
    load_attacks,
    sqlite_world,
)

ATTACKS = load_attacks("sqlite")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[HostileWorld]:
    with hostile_app(tmp_path_factory.mktemp("hostile_sqlite"), sqlite_template) as app, sqlite_world(app) as world:
        # Attacks prove nothing if the guard refuses everything or the runner is not watched.
        check_sanity(world, "SELECT customer FROM orders", "SELECT secret FROM secrets", "ZQX-SECRET-SQ-1")
        yield world


def test_there_are_enough_attacks() -> None:
    assert len([a for a in ATTACKS if a.who == "member"]) >= 100


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack(hostile: HostileWorld, attack: Attack) -> None:
    check(hostile, attack)
