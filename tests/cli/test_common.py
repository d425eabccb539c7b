"""What every command shares: the store check, settings refused, help everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from datadesk.cli import app as cli
from tests.cli.conftest import run, runner
from tests.conftest import TEST_SECRET


def test_a_fresh_store_asks_for_init(tmp_path: Path) -> None:
    env = {
        "DATADESK_HOME": str(tmp_path),
        "DATADESK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "DATADESK_SECRET_KEY": TEST_SECRET,
    }
    code, _, err = run(env, "members", "list", "-w", "acme")
    assert code == 1 and "datadesk init" in err


def test_placeholder_secret_is_refused_by_the_cli(tmp_path: Path) -> None:
    env = {"DATADESK_HOME": str(tmp_path), "DATADESK_SECRET_KEY": "changethis"}
    code, _, err = run(env, "members", "list", "-w", "acme")
    assert code == 1 and "placeholder" in err


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["init"],
        ["serve"],
        ["demo"],
        ["members"],
        ["members", "add"],
        ["teams"],
        ["teams", "create"],
        ["tokens"],
        ["tokens", "create"],
    ],
)
def test_help_everywhere(command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout
