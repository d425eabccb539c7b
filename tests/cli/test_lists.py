"""Every list command: --json prints the whole records and nothing else; the table never cuts an id."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from pydantic import BaseModel
from typer.core import TyperGroup

from datadesk.catalog.schemas import IntegrationOut
from datadesk.cli import app as cli
from datadesk.identity.schemas import MemberOut, TeamOut, TokenOut
from tests.cli.conftest import run

EMAIL = "someone.with.a.rather.long.address@analytics.example.com"
# Each list command with what it lists: the API's record shape, and the kind of id the create commands print.
LISTS: dict[str, tuple[list[str], type[BaseModel], str]] = {
    "members list": (["members", "list", "-w", "acme"], MemberOut, "member"),
    "teams list": (["teams", "list", "-w", "acme"], TeamOut, "team"),
    "tokens list": (["tokens", "list", "-w", "acme", "--email", EMAIL], TokenOut, "token"),
    "integrations list": (["integrations", "list", "-w", "acme"], IntegrationOut, "integration"),
}
ID = re.compile(r"\b[0-9a-f]{32}\b")


def test_every_list_command_is_covered() -> None:
    root = typer.main.get_command(cli)
    assert isinstance(root, TyperGroup)
    listing = {
        f"{name} {sub}"
        for name, group in root.commands.items()
        if isinstance(group, TyperGroup)
        for sub in group.commands
        if sub == "list" or sub.startswith("list-")
    }
    assert listing == set(LISTS)


def workspace(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A workspace holding one of each listed thing; their ids as the commands creating them printed them."""
    from tests.catalog.sources import build_shop

    run(env, "init", "--workspace", "acme", "--admin-email", "ada@acme.com", "--admin-password", "pw-12345678")
    printed = {
        "member": run(env, "members", "add", "-w", "acme", "--email", EMAIL, "--password", "a-long-password")[1],
        "team": run(env, "teams", "create", "-w", "acme", "[red]Revenue Operations[/red]")[1],
        "token": run(env, "tokens", "create", "-w", "acme", "--email", EMAIL, "--name", "nightly export job")[2],
        "integration": run(
            env,
            "integrations",
            "add",
            "-w",
            "acme",
            "--name",
            "shop",
            "--type",
            "sqlite",
            "--url",
            f"sqlite:///{build_shop(tmp_path / 'shop.db')}",
        )[1],
    }
    ids = {kind: ID.findall(text) for kind, text in printed.items()}
    assert all(len(found) == 1 for found in ids.values()), printed
    return {kind: found[0] for kind, found in ids.items()}


def test_list_commands_print_json_and_whole_ids(env: dict[str, str], tmp_path: Path) -> None:
    ids = workspace(env, tmp_path)
    narrow = {**env, "COLUMNS": "60"}
    for name, (command, shape, kind) in LISTS.items():
        code, out, err = run(env, *command, "--json")
        assert code == 0, err
        records = json.loads(out)  # stdout holds the JSON and nothing else
        assert isinstance(records, list) and records, name
        assert ids[kind] in {r["id"] for r in records}, name
        for record in records:
            assert set(shape.model_fields) <= set(record), name  # the whole record the API answers
            assert ID.fullmatch(record["id"]), name

        code, table, err = run(narrow, *command)
        assert code == 0, err
        for record in records:  # every id whole, on one line, however narrow the terminal
            assert record["id"] in table, (name, table)
    teams = json.loads(run(env, "teams", "list", "-w", "acme", "--json")[1])
    assert {t["name"]: t["members"] for t in teams} == {"Everyone": 2, "[red]Revenue Operations[/red]": 0}
    assert "[red]Revenue" in run(narrow, "teams", "list", "-w", "acme")[1]  # a name, not markup (it may wrap)
    integration = json.loads(run(env, "integrations", "list", "-w", "acme", "--json")[1])[0]
    assert integration["config"]["url"].startswith("sqlite:///") and integration["created_at"]
