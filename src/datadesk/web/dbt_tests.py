"""The dbt data tests a resource page shows, grouped by their last result: "unique, not_null: passed 2026-11-30"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datadesk.catalog.service import Detail

VERDICTS = {
    "pass": "passed",
    "fail": "failed",
    "error": "errored",
    "warn": "warned",
    "skipped": "skipped",
    "": "no result known",
}
# Failures first: they are what a reader of the page must not miss.
ORDER = ("fail", "error", "warn", "pass", "skipped")


@dataclass(frozen=True)
class ResultGroup:
    """Tests that ended the same way on the same day."""

    status: str  # pass | fail | warn | error | skipped; "" without run_results.json
    day: str  # YYYY-MM-DD of the result, or ""
    names: tuple[str, ...]  # "unique(customer_id)" on a table's page, "unique" on the column's
    failures: int = 0  # failing rows, summed over the group's tests

    @property
    def verdict(self) -> str:
        return f"{VERDICTS.get(self.status, self.status)} {self.day}".strip()

    @property
    def count(self) -> int:
        return len(self.names)


def groups(detail: Detail) -> list[ResultGroup]:
    """The resource's data tests, or its dbt siblings' (the caller sees only the faces it may), grouped."""
    on_column = detail.resource.type == "column"
    seen: set[tuple[str, str, str, str]] = set()
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for face in [detail.resource, *detail.siblings]:
        for test in (face.properties or {}).get("data_tests") or []:
            if not isinstance(test, dict):
                continue
            key = (
                str(test.get("name")),
                str(test.get("column") or ""),
                str(test.get("status") or ""),
                str(test.get("at") or ""),
            )
            if key in seen:
                continue
            seen.add(key)
            grouped.setdefault((key[2], key[3][:10]), []).append(test)
    result = [
        ResultGroup(
            status,
            day,
            tuple(_label(t, on_column) for t in tests),
            sum(t["failures"] for t in tests if isinstance(t.get("failures"), int) and status != "pass"),
        )
        for (status, day), tests in grouped.items()
    ]
    rank = {status: index for index, status in enumerate(ORDER)}
    result.sort(key=lambda g: g.day, reverse=True)
    result.sort(key=lambda g: rank.get(g.status, len(ORDER)))
    return result


def _label(test: dict[str, Any], on_column: bool) -> str:
    name, column = str(test.get("name") or "test"), str(test.get("column") or "")
    return f"{name}({column})" if column and not on_column else name
