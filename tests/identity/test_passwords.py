"""The password rule is the identity service's own: every way of setting a password goes through it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from datadesk.access.caller import Caller
from datadesk.db import transaction
from datadesk.errors import Invalid
from datadesk.identity import service as identity
from datadesk.identity.models import Role, User
from datadesk.identity.passwords import MAX_PASSWORD, MIN_PASSWORD, check_password
from datadesk.identity.schemas import Password
from datadesk.identity.security import verify_password
from tests.world import World

SHORT = "x" * (MIN_PASSWORD - 1)
LONG = "x" * (MAX_PASSWORD + 1)


@pytest.mark.parametrize("password", ["x" * MIN_PASSWORD, "x" * MAX_PASSWORD])
def test_a_password_within_the_rule_passes_unchanged(password: str) -> None:
    assert check_password(password) == password
    assert TypeAdapter(Password).validate_python(password) == password


@pytest.mark.parametrize(
    "password,message",
    [
        (SHORT, f"A password needs at least {MIN_PASSWORD} characters."),
        ("", f"A password needs at least {MIN_PASSWORD} characters."),
        (LONG, f"A password has at most {MAX_PASSWORD} characters."),
    ],
)
def test_the_service_and_the_schema_refuse_the_same_passwords(password: str, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_password(password)
    assert refused.value.message == message and refused.value.code == "invalid"
    with pytest.raises(ValidationError):
        TypeAdapter(Password).validate_python(password)


@pytest.mark.parametrize("password", [SHORT, LONG])
def test_adding_a_member_checks_the_password(sessions: Any, world: World, password: str) -> None:
    with pytest.raises(Invalid), transaction(sessions, world.a.id) as session:
        identity.add_member(
            session=session,
            caller=Caller.operator(world.a.id),
            email="new@alpha.example.com",
            role=Role.viewer,
            password=password,
        )


def test_adding_a_member_without_a_password_needs_none(sessions: Any, world: World) -> None:
    with transaction(sessions, world.a.id) as session:
        _, user = identity.add_member(
            session=session, caller=Caller.operator(world.a.id), email="new@alpha.example.com", role=Role.viewer
        )
        assert user.password_hash is None


def test_setting_a_password_checks_it(sessions: Any, world: World) -> None:
    operator = Caller.operator(world.a.id)
    with pytest.raises(Invalid), transaction(sessions, world.a.id) as session:
        identity.set_password(session=session, caller=operator, user_id=world.a.viewer.id, password=SHORT)
    with transaction(sessions, world.a.id) as session:
        identity.set_password(session=session, caller=operator, user_id=world.a.viewer.id, password="a-new-password")
    with transaction(sessions, world.a.id) as session:
        user = session.get(User, world.a.viewer.id)
        assert user is not None and verify_password(user.password_hash, "a-new-password")
