"""The local assistant's slice of the eval set (bench/assistant_eval.py), on the demo workspace.

Each question marked `"slice": true` in tests/fixtures/assistant_eval/questions.jsonl is asked as its asker
through `assistant.ask` and judged with the bench's own judge; a failure prints the question, what was
missed and the whole answer. Every other_team question about the demo must show nothing of another Team's.
The world is built once per module (the demo workspace on a temporary SQLite store, no PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bench._eval_world import EvalWorld, build
from bench.assistant_eval import Reply, ask, judge, leaks, load_questions

QUESTIONS = load_questions()
SLICE = [q for q in QUESTIONS if q.get("slice")]
OTHER_TEAM = [q for q in QUESTIONS if q["intent"] == "other_team" and q["source"] == "demo"]


@pytest.fixture(scope="module")
def world() -> Iterator[EvalWorld]:
    with build(small=True) as small:
        yield small


def shown(question: dict[str, Any], reply: Reply, why: list[str]) -> str:
    """The failure message: the question, what the judge missed, and the answer in full."""
    sql = [f"{r.get('sql')} -> {r.get('status')} {(r.get('rows') or [])[:3]}" for r in reply.sql_runs]
    return (
        f"\n{question['id']} [{question['intent']}] asked by {question['asker']}: {question['question']}"
        f"\nexpected: {question['expect']}\nmissed: {'; '.join(why)}"
        f"\nanswer: {reply.answer}\ncitations: {[c.get('name') for c in reply.citations]}"
        f"\nsql: {sql}\nerror: {reply.error}"
    )


def test_the_slice_is_about_the_demo_only() -> None:
    assert len(SLICE) >= 30 and {q["source"] for q in SLICE} == {"demo"}
    assert len({q["intent"] for q in SLICE}) == 16
    assert len(OTHER_TEAM) >= 15


@pytest.mark.parametrize("question", SLICE, ids=[q["id"] for q in SLICE])
def test_slice_question_is_answered_right(world: EvalWorld, question: dict[str, Any]) -> None:
    reply = ask(world, question["asker"], question["question"])
    why = judge(question, reply)
    assert not why, shown(question, reply, why)


def test_other_teams_things_never_show(world: EvalWorld) -> None:
    found = {}
    for question in OTHER_TEAM:
        reply = ask(world, question["asker"], question["question"])
        leaked = leaks(question, reply, world)
        if leaked:
            found[question["id"]] = shown(question, reply, leaked)
    assert not found, "".join(found.values())


def test_the_leak_check_sees_a_leak(world: EvalWorld) -> None:
    """A made-up answer naming and describing a Finance table to Mark is caught; the same for Fiona is not."""
    question = next(q for q in OTHER_TEAM if q["id"] == "other_team-01")
    answer = (
        "**invoices** (table in acme.finance) is owned by fiona@demo.datadesk.dev: Every invoice Stripe Billing "
        "issued, one row per invoice."
    )
    reply = Reply(answer=answer, citations=[], sql_runs=[])
    assert len(leaks(question, reply, world)) >= 2
    assert leaks({**question, "asker": "fiona", "intent": "owner"}, reply, world) == []
