"""Integrations: a source of metadata, its encrypted config and its Teams."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError

from datadesk import crypto
from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.catalog import links
from datadesk.catalog import teams as resource_teams
from datadesk.catalog.models import INTEGRATION_TYPES, Integration, IntegrationTeam, Resource
from datadesk.catalog.schedule import check as check_schedule
from datadesk.catalog.schedule import set_schedule
from datadesk.connectors.base import ConnectionFailed, Connector
from datadesk.connectors.registry import MASK, connector_for, mask_config
from datadesk.connectors.sources import DBT_PATHS, check_source
from datadesk.db import StoreSession, utcnow
from datadesk.errors import Conflict, Invalid, NotFound
from datadesk.identity import audit
from datadesk.identity.models import Team
from datadesk.settings import Settings

REQUIRED_KEYS = {"dbt": ("manifest_path",)}
# Masking hides only the URL's own password, and the connectors pass the user part's: one place for it.
QUERY_PASSWORD = "Put the password in the URL's user part (user:password@host), not in its query string."


def check_config(type: str, config: dict[str, Any]) -> dict[str, str]:
    """Validate a config's shape for its type; values are strings."""
    if type not in INTEGRATION_TYPES:
        raise Invalid(f"Unknown integration type '{type}'; use one of {', '.join(INTEGRATION_TYPES)}.")
    if not all(isinstance(v, str) for v in config.values()):
        raise Invalid("Config values must be strings.", code="invalid_config")
    required = REQUIRED_KEYS.get(type, ("url",))
    missing = [k for k in required if not config.get(k)]
    if missing:
        raise Invalid(f"A {type} integration needs {', '.join(missing)} in its config.", code="invalid_config")
    allowed = {"url"} if type != "dbt" else set(DBT_PATHS)
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise Invalid(f"Unknown config keys: {', '.join(unknown)}.", code="invalid_config")
    if type != "dbt" and "password" in _query_keys(config["url"]):
        raise Invalid(QUERY_PASSWORD, code="invalid_config")
    return {k: v for k, v in config.items() if v}


def _query_keys(url: str) -> set[str]:
    """The names in a URL's query string, lower case; none for a URL that does not parse (refused later)."""
    try:
        return {key.lower() for key in make_url(url).query}
    except (ArgumentError, ValueError):
        return set()


def config_of(secret_key: str, integration: Integration) -> dict[str, str]:
    data: dict[str, str] = json.loads(crypto.decrypt(secret_key, integration.config_encrypted))
    return data


def masked_config(secret_key: str, integration: Integration) -> dict[str, str]:
    return mask_config(integration.type, config_of(secret_key, integration))


def source_config(settings: Settings, integration: Integration) -> dict[str, str]:
    """The integration's config, refused (400 source_not_allowed) unless these settings still allow it as a source."""
    config = config_of(settings.secret_key, integration)
    check_source(settings, integration.type, config)
    return config


def connector(settings: Settings, integration: Integration) -> Connector:
    """A connector on the integration's source, once the source is checked as still allowed."""
    return connector_for(integration.type, source_config(settings, integration))


def test_connection(type: str, config: dict[str, str]) -> None:
    """Raise Invalid(connection_failed) with the connector's clear reason unless the source can be read."""
    try:
        connector_for(type, config).test()
    except ConnectionFailed as exc:
        raise Invalid(f"Could not connect: {exc}", code="connection_failed") from exc


def _check_teams(session: StoreSession, team_ids: list[str]) -> list[str]:
    unique = sorted(set(team_ids))
    found = set(session.scalars(select(Team.id).where(Team.id.in_(unique)))) if unique else set()
    if found != set(unique):
        raise Invalid("Unknown Team id.", code="unknown_team")
    return unique


def list_integrations(*, session: StoreSession, caller: Caller) -> list[tuple[Integration, list[str]]]:
    require(caller, Action.read_workspace)
    teams: dict[str, list[str]] = {}
    for integration_id, team_id in session.execute(select(IntegrationTeam.integration_id, IntegrationTeam.team_id)):
        teams.setdefault(integration_id, []).append(team_id)
    rows = session.scalars(select(Integration).order_by(Integration.name))
    return [(i, sorted(teams.get(i.id, []))) for i in rows]


def get_integration(*, session: StoreSession, caller: Caller, integration_id: str) -> Integration:
    require(caller, Action.read_workspace)
    integration = session.get(Integration, integration_id)
    if integration is None or integration.workspace_id != caller.workspace_id:
        raise NotFound("No such integration.")
    return integration


def find_integration(*, session: StoreSession, caller: Caller, name: str) -> Integration:
    require(caller, Action.read_workspace)
    integration = session.scalar(select(Integration).where(Integration.name == name))
    if integration is None:
        raise NotFound(f"No integration named '{name}'.")
    return integration


def team_ids_of(session: StoreSession, integration_id: str) -> list[str]:
    return sorted(
        session.scalars(select(IntegrationTeam.team_id).where(IntegrationTeam.integration_id == integration_id))
    )


class Keep(Enum):
    """An update argument left as it is."""

    KEEP = "keep"


def create_integration(
    *,
    session: StoreSession,
    caller: Caller,
    settings: Settings,
    name: str,
    type: str,
    config: dict[str, Any],
    team_ids: list[str],
    schedule: str | None = None,
    test: bool = True,
) -> Integration:
    """Create an integration on an allowed source after a successful connection test; nothing is saved when it fails."""
    require(caller, Action.manage_integrations)
    schedule = check_schedule(schedule)
    clean = check_config(type, config)
    check_source(settings, type, clean)
    team_ids = _check_teams(session, team_ids)
    if session.scalar(select(Integration.id).where(Integration.name == name)):
        raise Conflict(f"An integration named '{name}' already exists.", code="integration_exists")
    if test:
        test_connection(type, clean)
    integration = Integration(
        workspace_id=caller.workspace_id,
        name=name,
        type=type,
        config_encrypted=crypto.encrypt(settings.secret_key, json.dumps(clean)),
    )
    set_schedule(integration, schedule)
    session.add(integration)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"An integration named '{name}' already exists.", code="integration_exists") from exc
    for team_id in team_ids:
        session.add(IntegrationTeam(workspace_id=caller.workspace_id, integration_id=integration.id, team_id=team_id))
    audit.record(
        session,
        caller,
        "integration.create",
        integration.id,
        after={
            "name": name,
            "type": type,
            "config": mask_config(type, clean),
            "team_ids": team_ids,
            "schedule": schedule,
        },
    )
    session.flush()
    return integration


def update_integration(
    *,
    session: StoreSession,
    caller: Caller,
    settings: Settings,
    integration_id: str,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    team_ids: list[str] | None = None,
    schedule: str | Keep | None = Keep.KEEP,
    test: bool = True,
) -> Integration:
    """Rename, re-point, re-team or re-schedule an integration; a new config is checked and tested first."""
    require(caller, Action.manage_integrations)
    integration = get_integration(session=session, caller=caller, integration_id=integration_id)
    if not isinstance(schedule, Keep):
        schedule = check_schedule(schedule)
    secret_key = settings.secret_key
    before = {
        "name": integration.name,
        "config": masked_config(secret_key, integration),
        "team_ids": team_ids_of(session, integration.id),
        "schedule": integration.schedule,
    }
    clean: dict[str, str] | None = None
    if config is not None:
        # A masked password sent back unchanged keeps the stored one.
        merged = _unmask(config, config_of(secret_key, integration))
        clean = check_config(integration.type, merged)
        check_source(settings, integration.type, clean)
        if test:
            test_connection(integration.type, clean)
    if name is not None and name != integration.name:
        if session.scalar(select(Integration.id).where(Integration.name == name)):
            raise Conflict(f"An integration named '{name}' already exists.", code="integration_exists")
        integration.name = name
    if clean is not None:
        integration.config_encrypted = crypto.encrypt(secret_key, json.dumps(clean))
    if team_ids is not None:
        team_ids = _check_teams(session, team_ids)
        session.execute(delete(IntegrationTeam).where(IntegrationTeam.integration_id == integration.id))
        for team_id in team_ids:
            session.add(
                IntegrationTeam(workspace_id=caller.workspace_id, integration_id=integration.id, team_id=team_id)
            )
        session.flush()
        resource_teams.refresh_integration(session, caller.workspace_id, integration.id)
    if not isinstance(schedule, Keep) and schedule != integration.schedule:
        set_schedule(integration, schedule)
    integration.updated_at = utcnow()
    after = {
        "name": integration.name,
        "config": masked_config(secret_key, integration),
        "team_ids": team_ids_of(session, integration.id),
        "schedule": integration.schedule,
    }
    audit.record(session, caller, "integration.update", integration.id, before=before, after=after)
    return integration


def _unmask(new: dict[str, Any], old: dict[str, str]) -> dict[str, Any]:
    """A URL sent back with its password shown as *** keeps the stored password, if it goes to the same place.

    Everything but the database and a harmless option must stay as stored: the backend, user, host, port,
    and every other query option (`?host=`, `?port=`, `?unix_socket=`, `sslmode` ... choose the server too).
    Otherwise the stored password would be sent to a server the editor picked, so it must be typed again.
    """
    url = new.get("url")
    if not isinstance(url, str) or MASK not in url:
        return new
    try:
        candidate = make_url(url)
    except (ArgumentError, ValueError):
        raise Invalid("The config url is not a valid URL.", code="invalid_config") from None
    if candidate.password != MASK:
        return new
    stored = None
    if old.get("url"):
        previous = make_url(old["url"])
        stored = previous.password
        if stored and _destination(previous) != _destination(candidate):
            raise Invalid(
                "Type the password again: the stored one is kept only while the server, user and connection "
                "options stay the same.",
                code="invalid_config",
            )
    # _replace, not set(): set() ignores None, which would keep *** as the password of a URL that had none.
    return {**new, "url": candidate._replace(password=stored).render_as_string(hide_password=False)}


# Query options that cannot change which server gets the password.
_HARMLESS_OPTIONS = frozenset({"connect_timeout", "application_name"})


def _destination(url: URL) -> tuple[Any, ...]:
    """Where a URL's password goes: all of it but the password, the database and the harmless options."""
    options = sorted((k, str(v)) for k, v in url.query.items() if k not in _HARMLESS_OPTIONS)
    return url.drivername, url.username, url.host, url.port, options


def delete_integration(*, session: StoreSession, caller: Caller, secret_key: str, integration_id: str) -> None:
    """Delete an integration with its resources and sync history."""
    require(caller, Action.manage_integrations)
    integration = get_integration(session=session, caller=caller, integration_id=integration_id)
    audit.record(
        session,
        caller,
        "integration.delete",
        integration.id,
        before={"name": integration.name, "type": integration.type},
    )
    session.execute(delete(Resource).where(Resource.integration_id == integration.id))
    session.delete(integration)
    session.flush()
    links.relink_dbt(session, caller.workspace_id)  # the dbt nodes of a deleted warehouse have no sibling now
