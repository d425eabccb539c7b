"""The password rule is the identity service's own: every way of setting a password goes through it."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, text

from datadesk import store
from datadesk.access.caller import Caller
from datadesk.db import transaction
from datadesk.errors import Invalid
from datadesk.identity import service as identity
from datadesk.identity.models import Membership, Role
from datadesk.identity.passwords import MAX_PASSWORD, MIN_PASSWORD, check_password
from datadesk.identity.schemas import Password
from datadesk.identity.security import hash_password, verify_password
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
        membership, _ = identity.add_member(
            session=session, caller=Caller.operator(world.a.id), email="new@alpha.example.com", role=Role.viewer
        )
        assert membership.password_hash is None


def test_setting_a_password_checks_it(sessions: Any, world: World) -> None:
    operator = Caller.operator(world.a.id)
    with pytest.raises(Invalid), transaction(sessions, world.a.id) as session:
        identity.set_password(session=session, caller=operator, user_id=world.a.viewer.id, password=SHORT)
    with transaction(sessions, world.a.id) as session:
        identity.set_password(session=session, caller=operator, user_id=world.a.viewer.id, password="a-new-password")
    with transaction(sessions, world.a.id) as session:
        membership = session.scalar(select(Membership).where(Membership.user_id == world.a.viewer.id))
        assert membership is not None and verify_password(membership.password_hash, "a-new-password")


def test_the_migration_gives_each_membership_its_account_s_password(app: Any, world: World) -> None:
    """20261208_0018 copies the account's password into each of its memberships; its downgrade copies one back."""
    config = store.alembic_config()
    try:
        with app.state.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "20261208_0017")
            connection.execute(
                text("UPDATE user_account SET password_hash = :h WHERE id = :id"),
                {"h": hash_password("the-old-password"), "id": world.a.editor.id},
            )
            connection.execute(
                text("UPDATE user_account SET password_hash = NULL WHERE id <> :id"), {"id": world.a.editor.id}
            )
    finally:
        store.upgrade(app.state.engine)
    with app.state.engine.connect() as connection:
        hashes = dict(connection.execute(select(Membership.user_id, Membership.password_hash)).all())
    assert verify_password(hashes.pop(world.a.editor.id), "the-old-password")
    assert set(hashes.values()) == {None}
    with app.state.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "20261208_0017")
        back = connection.execute(
            text("SELECT password_hash FROM user_account WHERE id = :id"), {"id": world.a.editor.id}
        )
        assert verify_password(back.scalar_one(), "the-old-password")
    store.upgrade(app.state.engine)
