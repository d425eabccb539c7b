"""What a login or a bearer token stands for: the Caller, read fresh from the store, and the token's last use.

`service.login` and `service.authenticate` check the credentials; this is the part they share.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from datadesk.access.caller import Caller
from datadesk.db import StoreSession, apart, is_busy, utcnow
from datadesk.identity.models import ApiToken, TeamMember, User

TOKEN_TOUCH_EVERY = timedelta(seconds=60)


def touch_token(session: StoreSession, token_id: str) -> None:
    """Stamp a token's last use, best effort: apart from the request, so a read stays a read, and never waiting.

    A busy SQLite store skips it; on PostgreSQL a row another request holds is skipped. The next request retries.
    """
    now = utcnow()
    stale = (
        select(ApiToken.id)
        .where(ApiToken.id == token_id)
        .where(or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOKEN_TOUCH_EVERY))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    try:
        with apart(session, wait=False) as own:
            own.execute(
                update(ApiToken)
                .where(ApiToken.id == stale)
                .values(last_used_at=now)
                .execution_options(all_workspaces=True, synchronize_session=False)
            )
    except (OperationalError, PoolTimeout) as exc:
        if not is_busy(exc):
            raise


def caller_for(session: StoreSession, workspace_id: str, user: User, role: str, token_id: str) -> Caller:
    """The Caller a person is in a workspace, with their Teams as the store holds them now."""
    team_ids = session.scalars(
        select(TeamMember.team_id)
        .where(TeamMember.workspace_id == workspace_id, TeamMember.user_id == user.id)
        .execution_options(all_workspaces=True)
    )
    return Caller(
        workspace_id=workspace_id,
        user_id=user.id,
        role=role,
        team_ids=frozenset(team_ids),
        email=user.email,
        token_id=token_id,
    )
