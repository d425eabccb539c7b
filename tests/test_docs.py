"""The README and the contract kept true by the code: routes, CLI commands, error codes, and the tests' layout."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import typer
from typer.core import TyperGroup

from datadesk.app import create_app
from datadesk.cli import app as cli_app
from datadesk.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "datadesk"
README = (ROOT / "README.md").read_text()
CONTRACT = (ROOT / "tests" / "fixtures" / "contract" / "CONTRACT.md").read_text()
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _param_free(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def documented_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the README's API table names: `GET|POST /a/{id}[/b]?q=` is four."""
    found: set[tuple[str, str]] = set()
    for row in section("HTTP API").splitlines():
        if not row.startswith("| ") or row.startswith("| area") or row.startswith("|---"):
            continue
        routes_cell = row.split(" | ")[1]
        for methods, path in re.findall(r"`([A-Z|\\]+) (/[^`\s]*)`", routes_cell):
            variants = {re.sub(r"\[([^\]]*)\]", "", path), re.sub(r"\[([^\]]*)\]", r"\1", path)}
            for method in methods.replace("\\", "").split("|"):
                assert method in METHODS, f"unknown method {method!r} in README row {row!r}"
                found |= {(method, _param_free(p.split("?")[0])) for p in variants}
    return found


def api_routes(home: Path) -> set[tuple[str, str]]:
    settings = Settings(home=home, database_url=f"sqlite:///{home}/store.db", secret_key="k" * 32)
    app = create_app(settings)
    spec = app.openapi()
    app.state.engine.dispose()
    return {
        (method.upper(), _param_free(path.removeprefix("/api/v1")))
        for path, item in spec["paths"].items()
        for method in item
        if method.upper() in METHODS
    }


def test_readme_route_table_is_the_api(tmp_path: Path) -> None:
    documented, served = documented_routes(), api_routes(tmp_path)
    assert len(documented) > 40
    assert sorted(served - documented) == [], "routes the API serves that the README's table does not name"
    assert sorted(documented - served) == [], "routes the README's table names that the API does not serve"


def documented_commands() -> set[str]:
    """`datadesk a b|c [--x]|d` in the README's command block: 'a b', 'a c', 'a d'."""
    block = section("Command line").split("```sh\n", 1)[1].split("```", 1)[0]
    found: set[str] = set()
    for line in block.splitlines():
        words = re.sub(r"\s+#.*$", "", line).split()
        if words[:1] != ["datadesk"] or len(words) < 2:
            continue
        command, rest = words[1], " ".join(words[2:])
        first = re.sub(r"\s*\[[^\]]*\]\s*", "", rest).split()
        subs = first[0].split("|") if first and re.fullmatch(r"[a-z|]+", first[0]) else []
        found |= {f"{command} {sub}" for sub in subs} if subs else {command}
    return found


def cli_commands() -> set[str]:
    root = typer.main.get_command(cli_app)
    assert isinstance(root, TyperGroup)
    found: set[str] = set()
    for name, command in root.commands.items():
        if isinstance(command, TyperGroup):
            found |= {f"{name} {sub}" for sub in command.commands}
        else:
            found.add(name)
    return found


def test_readme_command_list_is_the_cli() -> None:
    documented, commands = documented_commands(), cli_commands()
    assert len(documented) > 20
    assert sorted(commands - documented) == [], "commands the CLI has that the README's list does not name"
    assert sorted(documented - commands) == [], "commands the README's list names that the CLI does not have"


def raisable_codes() -> dict[str, set[int]]:
    """Every error code the code can answer, with its statuses, read from the source.

    Codes come from error classes (`code = "..."` in a subclass of DomainError or Exception), from
    `code="..."` where an error is raised, and from the literal codes the HTTP layer answers itself.
    """
    classes: dict[str, tuple[list[str], str | None, int | None]] = {}
    calls: list[tuple[str, str, int | None]] = []
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                attrs = {
                    s.targets[0].id: s.value.value
                    for s in node.body
                    if isinstance(s, ast.Assign)
                    and isinstance(s.targets[0], ast.Name)
                    and isinstance(s.value, ast.Constant)
                }
                bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                classes[node.name] = (bases, attrs.get("code"), attrs.get("status"))
            elif isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                constants = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
                for keyword in node.keywords:
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                        calls.append((name, keyword.value.value, None))
                if name == "_answer" and len(constants) > 2 and isinstance(constants[2], str):
                    calls.append((name, constants[2], constants[1]))
                if name == "error_response" and len(constants) > 1 and isinstance(constants[1], str):
                    calls.append((name, constants[1], constants[0]))
                if name == "_error" and constants and isinstance(constants[0], str):
                    calls.append((name, constants[0], 0))  # an MCP tool's error result: no HTTP status
            elif isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_HTTP_CODES":
                assert isinstance(node.value, ast.Dict)
                for key, value in zip(node.value.keys, node.value.values, strict=True):
                    assert isinstance(key, ast.Constant) and isinstance(value, ast.Constant)
                    calls.append(("HTTPException", value.value, key.value))

    def status(name: str) -> int | None:
        bases, _, own = classes.get(name, ([], None, None))
        return own if own is not None else next((s for b in bases if (s := status(b)) is not None), None)

    def is_error(name: str) -> bool:
        return name in ("DomainError", "Exception") or any(is_error(b) for b in classes.get(name, ([],))[0])

    codes: dict[str, set[int]] = defaultdict(set)
    for name, (_, code, _) in classes.items():
        if code is not None and is_error(name):
            codes[code].add(status(name) or 500)
    for name, code, given in calls:
        codes[code] |= {given if given is not None else status(name) or 500} - {0}
    return codes


def documented_codes() -> dict[str, set[int]]:
    table = section("Error codes")
    rows = re.findall(r"^\| `([a-z_]+)` \| ([0-9, ]+|-) \|", table, re.MULTILINE)
    return {code: {int(s) for s in statuses.split(",") if s != "-"} for code, statuses in rows}


def test_readme_error_codes_are_the_codes_the_code_can_raise() -> None:
    raisable, documented = raisable_codes(), documented_codes()
    assert len(raisable) > 50
    assert sorted(set(raisable) - set(documented)) == [], "codes the code raises that README's table lacks"
    assert sorted(set(documented) - set(raisable)) == [], "codes README's table names that nothing raises"
    wrong = {code: (documented[code], raisable[code]) for code in raisable if documented[code] != raisable[code]}
    assert wrong == {}, "README status differs from the code's (README, code)"


def test_the_contracts_error_codes_are_raised_with_its_statuses() -> None:
    named = re.findall(r"\b([45]\d\d) `([a-z_]+)`", CONTRACT)
    assert len(named) >= 7
    raisable = raisable_codes()
    for status, code in named:
        assert int(status) in raisable.get(code, set()), f"CONTRACT.md's {status} {code} is not raised so"


def test_tests_mirror_the_source_folder_for_folder() -> None:
    packages = {p.parent.relative_to(SRC) for p in SRC.rglob("*.py") if "migrations" not in p.parts and p.parent != SRC}
    missing = sorted(str(p) for p in packages if not (ROOT / "tests" / p).is_dir())
    assert missing == [], "source folders without a tests folder of the same name"
    test_folders = {
        p.relative_to(ROOT / "tests")
        for p in (ROOT / "tests").rglob("test_*.py")
        if p.parent != ROOT / "tests" and not {"fixtures", "fakes"} & set(p.parts)  # fakes: of remote things
    }
    strays = sorted(str(p.parent) for p in test_folders if not (SRC / p.parent).is_dir())
    assert strays == [], "tests folders that mirror no source folder"
