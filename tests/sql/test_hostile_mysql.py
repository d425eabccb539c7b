"""The attacker's suite on MariaDB: every statement in hostile/mysql.txt refused or harmless through POST /sql."""

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
    mysql_world,
)

ATTACKS = load_attacks("mysql")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[HostileWorld]:
    with hostile_app(tmp_path_factory.mktemp("hostile_mysql"), sqlite_template) as app, mysql_world(app) as world:
        # Attacks prove nothing if the guard refuses everything or the runner is not watched.
        check_sanity(world, "SELECT note FROM calendar", "SELECT secret FROM secrets", "ZQX-SECRET-MY-1")
        yield world


def test_there_are_enough_attacks() -> None:
    assert len([a for a in ATTACKS if a.who == "member"]) >= 100


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack(hostile: HostileWorld, attack: Attack) -> None:
    check(hostile, attack)
