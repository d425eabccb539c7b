"""What the command-line tests share: a store per test on both stores, and running a command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datadesk.cli import app as cli
from tests.conftest import FIXTURES, TEST_SECRET

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "DATADESK_HOME": str(tmp_path / "home"),
        "DATADESK_DATABASE_URL": database_url,
        "DATADESK_SECRET_KEY": TEST_SECRET,
        "DATADESK_SOURCES_DIR": os.pathsep.join([str(tmp_path), str(FIXTURES)]),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr
