"""An integration's sync schedule: a 5-field cron expression in UTC, and the next tick it fires at (jobs.schedules)."""

from __future__ import annotations

from datetime import datetime

from croniter import CroniterError, croniter

from datadesk.catalog.models import Integration
from datadesk.db import utcnow
from datadesk.errors import Unprocessable

EXAMPLE = '"0 3 * * *" (03:00 UTC every day)'


class InvalidSchedule(Unprocessable):
    code = "invalid_schedule"


def check(expression: str | None) -> str | None:
    """The schedule as stored (fields separated by one space), or None to clear it; refuses what is not 5-field cron."""
    if expression is None:
        return None
    fields = expression.split()
    if not fields:
        return None
    text = " ".join(fields)
    if len(fields) != 5:
        raise InvalidSchedule(
            f"The schedule {expression!r} has {len(fields)} fields; give 5 (minute hour day-of-month month "
            f"day-of-week, in UTC), e.g. {EXAMPLE}."
        )
    if not croniter.is_valid(text):
        raise InvalidSchedule(f"The schedule {expression!r} is not a valid cron expression; e.g. {EXAMPLE}.")
    try:
        next_tick(text, utcnow())
    except (CroniterError, ValueError):  # valid fields that name no date, such as 31 February
        raise InvalidSchedule(f"The schedule {expression!r} never fires; e.g. {EXAMPLE}.") from None
    return text


def next_tick(expression: str, after: datetime) -> datetime:
    """The first tick of the schedule strictly after `after` (UTC)."""
    return croniter(expression, after).get_next(datetime)


def set_schedule(integration: Integration, expression: str | None, now: datetime | None = None) -> None:
    """Set or clear an integration's schedule and its next tick."""
    schedule = check(expression)
    integration.schedule = schedule
    integration.next_sync_at = next_tick(schedule, now or utcnow()) if schedule else None
