"""`datadesk members`, `teams` and `tokens`, through the same services the API uses."""

from __future__ import annotations

import json

from tests.cli.conftest import run


def test_members_teams_and_tokens_commands(env: dict[str, str]) -> None:
    run(env, "init", "--workspace", "acme", "--admin-email", "ada@acme.com", "--admin-password", "pw-12345678")
    assert (
        run(
            env,
            "members",
            "add",
            "-w",
            "acme",
            "--email",
            "bob@acme.com",
            "--role",
            "editor",
            "--password",
            "bob-password",
        )[0]
        == 0
    )
    assert run(env, "members", "role", "-w", "acme", "--email", "bob@acme.com", "--role", "viewer")[0] == 0
    assert run(env, "teams", "create", "-w", "acme", "Finance")[0] == 0
    assert run(env, "teams", "add", "-w", "acme", "Finance", "--email", "bob@acme.com")[0] == 0
    teams = {t["name"]: t for t in json.loads(run(env, "teams", "list", "-w", "acme", "--json")[1])}
    members = {m["email"]: m for m in json.loads(run(env, "members", "list", "-w", "acme", "--json")[1])}
    assert members["bob@acme.com"]["role"] == "viewer"
    assert members["bob@acme.com"]["id"] in teams["Finance"]["member_ids"]
    assert set(teams) == {"Everyone", "Finance"}

    code, token, _ = run(env, "tokens", "create", "-w", "acme", "--email", "bob@acme.com", "--name", "ci")
    assert code == 0 and token.strip().startswith("ddt_")
    listed = json.loads(run(env, "tokens", "list", "-w", "acme", "--email", "bob@acme.com", "--json")[1])
    assert [t["name"] for t in listed] == ["ci"]
    assert run(env, "tokens", "revoke", "-w", "acme", "--email", "bob@acme.com", listed[0]["id"])[0] == 0

    code, _, err = run(env, "members", "role", "-w", "acme", "--email", "ada@acme.com", "--role", "viewer")
    assert code == 1 and "at least one admin" in err
    assert run(env, "teams", "remove", "-w", "acme", "Finance", "--email", "bob@acme.com")[0] == 0
    assert run(env, "teams", "delete", "-w", "acme", "Finance")[0] == 0
    assert run(env, "members", "remove", "-w", "acme", "--email", "bob@acme.com")[0] == 0
    code, _, err = run(env, "members", "remove", "-w", "nowhere", "--email", "bob@acme.com")
    assert code == 1 and "No workspace 'nowhere'" in err
